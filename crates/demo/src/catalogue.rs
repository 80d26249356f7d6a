//! The sample library: every file the demo writes, by relative path.
//!
//! Text files live under `content/` in this crate, mirroring the output
//! tree, and are compiled in; pictures, PDFs and audio are generated.

use std::io;

use crate::audio::{self, Phrase};
use crate::image::{self, Canvas, Rgb};
use crate::pdf;

pub struct Entry {
    /// Relative to the library root, `/`-separated.
    pub path: &'static str,
    pub content: Content,
}

pub enum Content {
    Text(&'static str),
    Cover(Rgb, Rgb),
    Picture(fn() -> Canvas),
    Pdf(&'static str, &'static [&'static str]),
    Wav(&'static [Phrase]),
    Subtitles(&'static [Phrase], fn(&Phrase) -> &'static str),
}

impl Content {
    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        Ok(match self {
            Content::Text(text) => text.as_bytes().to_vec(),
            Content::Cover(from, to) => image::cover(640, 360, *from, *to).encode_png()?,
            Content::Picture(draw) => draw().encode_png()?,
            Content::Pdf(title, lines) => pdf::one_page(title, lines),
            Content::Wav(phrases) => audio::wav(phrases),
            Content::Subtitles(phrases, pick) => audio::srt(phrases, *pick).into_bytes(),
        })
    }
}

macro_rules! text {
    ($path:literal) => {
        Entry {
            path: $path,
            content: Content::Text(include_str!(concat!("../content/", $path))),
        }
    };
}

fn entry(path: &'static str, content: Content) -> Entry {
    Entry { path, content }
}

pub fn entries() -> Vec<Entry> {
    let mut all = rust_basics();
    all.extend(python_for_data());
    all.extend(colour_theory());
    all.extend(typography());
    all.extend(german_a1());
    all.extend(spanish_a1());
    all
}

fn rust_basics() -> Vec<Entry> {
    vec![
        text!("Programming/Rust Basics/README.md"),
        entry(
            "Programming/Rust Basics/cover.png",
            Content::Cover(Rgb(183, 65, 14), Rgb(40, 24, 20)),
        ),
        text!("Programming/Rust Basics/.lecternignore"),
        text!("Programming/Rust Basics/drafts/04 Lifetimes (unfinished).md"),
        text!("Programming/Rust Basics/01 Introduction/01 Welcome.md"),
        text!("Programming/Rust Basics/01 Introduction/02 Why Rust.txt"),
        text!("Programming/Rust Basics/02 Setup/01 Installing Rust.md"),
        text!("Programming/Rust Basics/02 Setup/02 hello.rs"),
        entry(
            "Programming/Rust Basics/03 Ownership/01 Ownership in One Page.pdf",
            Content::Pdf("Ownership in One Page", OWNERSHIP),
        ),
        text!("Programming/Rust Basics/03 Ownership/02 borrowing.rs"),
        text!("Programming/Rust Basics/03 Ownership/Exercises/01 fix_the_borrow.rs"),
    ]
}

const OWNERSHIP: &[&str] = &[
    "1. Every value has exactly one owner.",
    "2. When the owner goes out of scope, the value is dropped.",
    "3. Assigning or passing a value moves it; the old name can no longer be used.",
    "4. Borrowing lends a value without moving it:",
    "     any number of shared borrows (&T), or",
    "     exactly one mutable borrow (&mut T).",
    "5. A borrow must never outlive the value it points to.",
    "",
    "Try it: run 02 borrowing.rs, then fix the program in Exercises/.",
];

fn python_for_data() -> Vec<Entry> {
    vec![
        text!("Programming/Python for Data/README.md"),
        entry(
            "Programming/Python for Data/cover.png",
            Content::Cover(Rgb(48, 105, 152), Rgb(255, 212, 59)),
        ),
        text!("Programming/Python for Data/01 Getting Started/01 Welcome.md"),
        text!("Programming/Python for Data/01 Getting Started/02 first_steps.py"),
        text!("Programming/Python for Data/02 Working with Data/01 Reading a CSV File.md"),
        text!("Programming/Python for Data/02 Working with Data/02 sales.csv"),
        text!("Programming/Python for Data/02 Working with Data/03 load_sales.py"),
        entry(
            "Programming/Python for Data/02 Working with Data/04 Sales by Month.png",
            Content::Picture(sales_chart),
        ),
        text!("Programming/Python for Data/03 Sharing Results/01 Report Preview.html"),
        text!("Programming/Python for Data/03 Sharing Results/02 Exercises.txt"),
    ]
}

/// Monthly revenue, as in `02 sales.csv`.
const REVENUE: [u32; 12] = [
    2950, 2410, 3280, 3105, 3560, 3745, 4090, 4275, 3470, 3195, 4410, 5350,
];

fn sales_chart() -> Canvas {
    image::bar_chart(&REVENUE, 480, 270, Rgb(48, 105, 152))
}

fn colour_theory() -> Vec<Entry> {
    vec![
        text!("Design/Colour Theory/README.md"),
        entry(
            "Design/Colour Theory/cover.png",
            Content::Cover(Rgb(230, 57, 70), Rgb(69, 123, 157)),
        ),
        text!("Design/Colour Theory/01 Seeing Colour/01 Hue Saturation Value.md"),
        entry(
            "Design/Colour Theory/01 Seeing Colour/02 Hue Spectrum.png",
            Content::Picture(|| image::hue_spectrum(360, 120)),
        ),
        entry(
            "Design/Colour Theory/02 Harmony/01 Complementary Colours.pdf",
            Content::Pdf("Complementary Colours", COMPLEMENTARY),
        ),
        entry(
            "Design/Colour Theory/02 Harmony/02 Palettes.png",
            Content::Picture(|| image::palettes(&PALETTES, 64)),
        ),
        text!("Design/Colour Theory/02 Harmony/03 palettes.csv"),
    ]
}

const COMPLEMENTARY: &[&str] = &[
    "Complementary colours sit opposite each other on the colour wheel:",
    "red and green, blue and orange, yellow and violet.",
    "",
    "Side by side they make each other look more vivid, which is why",
    "they work for emphasis and tire the eye over large areas.",
    "",
    "A dependable recipe: one dominant colour, its complement as a small",
    "accent (about 10 %), and neutrals for everything else.",
];

/// The palettes of `03 palettes.csv`, one row each.
const PALETTES: [&[Rgb]; 4] = [
    &[
        Rgb(0x1f, 0x4e, 0x9e),
        Rgb(0x3d, 0x74, 0xc4),
        Rgb(0xf2, 0xf2, 0xf2),
        Rgb(0xf0, 0xa0, 0x30),
        Rgb(0xc4, 0x6a, 0x10),
    ],
    &[
        Rgb(0x2e, 0x7d, 0x32),
        Rgb(0x55, 0x8b, 0x2f),
        Rgb(0x9e, 0x9d, 0x24),
        Rgb(0xf9, 0xa8, 0x25),
        Rgb(0xef, 0x6c, 0x00),
    ],
    &[
        Rgb(0xc6, 0x28, 0x28),
        Rgb(0xf9, 0xd7, 0x1c),
        Rgb(0x15, 0x65, 0xc0),
        Rgb(0xfa, 0xfa, 0xfa),
        Rgb(0x26, 0x32, 0x38),
    ],
    &[
        Rgb(0x0d, 0x3b, 0x66),
        Rgb(0x1d, 0x5c, 0x8f),
        Rgb(0x3a, 0x7f, 0xb8),
        Rgb(0x74, 0xa9, 0xd8),
        Rgb(0xb8, 0xd4, 0xee),
    ],
];

fn typography() -> Vec<Entry> {
    vec![
        text!("Design/Typography/README.md"),
        entry(
            "Design/Typography/cover.png",
            Content::Cover(Rgb(245, 240, 230), Rgb(33, 33, 33)),
        ),
        text!("Design/Typography/.notes.txt"),
        text!("Design/Typography/1 Welcome/01 About This Course.md"),
        text!("Design/Typography/2 Basics/01 Anatomy of a Letter.md"),
        text!("Design/Typography/2 Basics/02 Glossary.txt"),
        text!("Design/Typography/10 Advanced/01 Vertical Rhythm.md"),
        entry(
            "Design/Typography/10 Advanced/02 Type Scale.pdf",
            Content::Pdf("Type Scale", TYPE_SCALE),
        ),
    ]
}

const TYPE_SCALE: &[&str] = &[
    "A modular scale multiplies each size by the same ratio.",
    "",
    "Ratio 1.25 (major third), base 16 px:",
    "     13   16   20   25   31   39   49",
    "",
    "Ratio 1.5 (perfect fifth), base 16 px:",
    "     11   16   24   36   54",
    "",
    "Use the body size for paragraphs and step up once per heading level.",
];

fn german_a1() -> Vec<Entry> {
    vec![
        text!("Languages/German A1/README.md"),
        entry(
            "Languages/German A1/cover.png",
            Content::Cover(Rgb(30, 30, 30), Rgb(255, 204, 0)),
        ),
        entry(
            "Languages/German A1/01 Greetings/01 Hallo.wav",
            Content::Wav(GERMAN),
        ),
        entry(
            "Languages/German A1/01 Greetings/01 Hallo.en.srt",
            Content::Subtitles(GERMAN, |p| p.english),
        ),
        entry(
            "Languages/German A1/01 Greetings/01 Hallo.de.srt",
            Content::Subtitles(GERMAN, |p| p.native),
        ),
        text!("Languages/German A1/01 Greetings/02 Phrasebook.md"),
        text!("Languages/German A1/02 Numbers/01 Numbers 1 to 10.txt"),
        text!("Languages/German A1/02 Numbers/02 flashcards.csv"),
    ]
}

const GERMAN: &[Phrase] = &[
    phrase(392, "Hello!", "Hallo!"),
    phrase(440, "Good morning!", "Guten Morgen!"),
    phrase(494, "How are you?", "Wie geht es Ihnen?"),
    phrase(523, "Fine, thank you.", "Danke, gut."),
    phrase(440, "Bye!", "Tschüss!"),
];

fn spanish_a1() -> Vec<Entry> {
    vec![
        text!("Languages/Spanish A1/README.md"),
        entry(
            "Languages/Spanish A1/cover.png",
            Content::Cover(Rgb(170, 21, 27), Rgb(241, 191, 0)),
        ),
        entry(
            "Languages/Spanish A1/01 Greetings/01 Hola.wav",
            Content::Wav(SPANISH),
        ),
        entry(
            "Languages/Spanish A1/01 Greetings/01 Hola.en.srt",
            Content::Subtitles(SPANISH, |p| p.english),
        ),
        entry(
            "Languages/Spanish A1/01 Greetings/01 Hola.es.srt",
            Content::Subtitles(SPANISH, |p| p.native),
        ),
        text!("Languages/Spanish A1/01 Greetings/02 Phrasebook.md"),
        text!("Languages/Spanish A1/02 Food and Drink/01 At the Café.txt"),
        text!("Languages/Spanish A1/02 Food and Drink/02 flashcards.csv"),
        entry(
            "Languages/Spanish A1/02 Food and Drink/03 Cheat Sheet.pdf",
            Content::Pdf("Spanish A1: Cheat Sheet", SPANISH_CHEAT_SHEET),
        ),
    ]
}

const SPANISH: &[Phrase] = &[
    phrase(392, "Hello!", "¡Hola!"),
    phrase(440, "Good morning.", "Buenos días."),
    phrase(494, "How are you?", "¿Qué tal?"),
    phrase(523, "Very well, thanks.", "Muy bien, gracias."),
    phrase(440, "Goodbye!", "¡Adiós!"),
];

const SPANISH_CHEAT_SHEET: &[&str] = &[
    "¡Hola!                       Hello!",
    "Buenos días / Buenas tardes  Good morning / Good afternoon",
    "¿Qué tal?                    How are you?",
    "Por favor / Gracias          Please / Thank you",
    "Un café con leche            A white coffee",
    "La cuenta, por favor         The bill, please",
    "¿Dónde está el baño?         Where is the toilet?",
    "Adiós                        Goodbye",
];

const fn phrase(pitch_hz: u32, english: &'static str, native: &'static str) -> Phrase {
    Phrase {
        pitch_hz,
        english,
        native,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_column(csv: &str, column: usize) -> Vec<String> {
        csv.lines()
            .skip(1)
            .map(|line| line.split(',').nth(column).unwrap().to_string())
            .collect()
    }

    #[test]
    fn chart_matches_sales_csv() {
        let csv = include_str!(
            "../content/Programming/Python for Data/02 Working with Data/02 sales.csv"
        );
        let revenue: Vec<String> = REVENUE.iter().map(u32::to_string).collect();
        assert_eq!(csv_column(csv, 2), revenue);
    }

    #[test]
    fn swatches_match_palettes_csv() {
        let csv = include_str!("../content/Design/Colour Theory/02 Harmony/03 palettes.csv");
        for (row, palette) in csv.lines().skip(1).zip(PALETTES) {
            let hex: Vec<String> = palette
                .iter()
                .map(|Rgb(r, g, b)| format!("#{r:02x}{g:02x}{b:02x}"))
                .collect();
            assert_eq!(row.split(',').skip(1).collect::<Vec<_>>(), hex);
        }
    }

    /// A text file added under `content/` but not listed here would be
    /// silently left out of the demo.
    #[test]
    fn every_content_file_is_listed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for item in std::fs::read_dir(folder).unwrap() {
                let path = item.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap();
                    let parts: Vec<_> = relative.iter().map(|p| p.to_str().unwrap()).collect();
                    on_disk.push(parts.join("/"));
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<_> = entries()
            .into_iter()
            .filter(|e| matches!(e.content, Content::Text(_)))
            .map(|e| e.path.to_string())
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn paths_are_unique() {
        let mut paths: Vec<_> = entries().iter().map(|e| e.path).collect();
        paths.sort_unstable();
        let count = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), count);
    }
}
