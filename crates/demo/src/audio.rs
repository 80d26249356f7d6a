//! A short audio lesson: a WAV of sine tones and SRT subtitles timed to it.
//!
//! Each phrase is one tone standing in for a spoken sentence; the subtitle
//! cue for phrase `i` covers exactly the tone's span, so the two files
//! always agree.

use std::f64::consts::PI;

pub const SAMPLE_RATE: u32 = 8_000;
/// Each phrase takes one slot: a quiet lead-in, the tone, a quiet tail.
const SLOT_MS: u32 = 1_200;
const LEAD_MS: u32 = 150;
const TONE_MS: u32 = 900;
/// Fading in and out avoids an audible click at each edge.
const FADE_MS: u32 = 20;
const AMPLITUDE: f64 = 0.3 * i16::MAX as f64;

pub struct Phrase {
    pub pitch_hz: u32,
    pub english: &'static str,
    pub native: &'static str,
}

/// 16-bit PCM mono WAV with one tone per phrase.
pub fn wav(phrases: &[Phrase]) -> Vec<u8> {
    let mut samples = Vec::new();
    for phrase in phrases {
        samples.extend(silence(LEAD_MS));
        samples.extend(tone(phrase.pitch_hz, TONE_MS));
        samples.extend(silence(SLOT_MS - LEAD_MS - TONE_MS));
    }
    let mut out = wav_header(samples.len() as u32 * 2);
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// SRT subtitles, one cue per phrase, using `pick` to choose the language.
pub fn srt(phrases: &[Phrase], pick: fn(&Phrase) -> &'static str) -> String {
    let mut out = String::new();
    for (index, phrase) in phrases.iter().enumerate() {
        let start = index as u32 * SLOT_MS + LEAD_MS;
        let end = start + TONE_MS;
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            index + 1,
            timestamp(start),
            timestamp(end),
            pick(phrase)
        ));
    }
    out
}

fn timestamp(ms: u32) -> String {
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1_000 % 60);
    format!("{h:02}:{m:02}:{s:02},{:03}", ms % 1_000)
}

fn sample_count(ms: u32) -> u32 {
    ms * SAMPLE_RATE / 1_000
}

fn silence(ms: u32) -> impl Iterator<Item = i16> {
    std::iter::repeat_n(0, sample_count(ms) as usize)
}

fn tone(pitch_hz: u32, ms: u32) -> impl Iterator<Item = i16> {
    let count = sample_count(ms);
    let fade = sample_count(FADE_MS);
    (0..count).map(move |n| {
        let edge = n.min(count - 1 - n).min(fade);
        let envelope = f64::from(edge) / f64::from(fade);
        // Phase in whole sample steps keeps the angle small and exact.
        let phase = (u64::from(n) * u64::from(pitch_hz) % u64::from(SAMPLE_RATE)) as f64;
        let angle = 2.0 * PI * phase / f64::from(SAMPLE_RATE);
        (sine(angle) * envelope * AMPLITUDE).round() as i16
    })
}

/// Sine of an angle in `[0, 2π)` using only + and ×.
///
/// `f64::sin` comes from the platform's maths library, whose last bit can
/// differ between systems; this keeps the WAV bytes identical everywhere.
fn sine(angle: f64) -> f64 {
    let x = if angle > 1.5 * PI {
        angle - 2.0 * PI
    } else if angle > 0.5 * PI {
        PI - angle
    } else {
        angle
    };
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    for k in 1..8 {
        let k = f64::from(k);
        term *= -x2 / ((2.0 * k) * (2.0 * k + 1.0));
        sum += term;
    }
    sum
}

fn wav_header(data_len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHRASES: [Phrase; 2] = [
        Phrase {
            pitch_hz: 440,
            english: "Hello",
            native: "Hallo",
        },
        Phrase {
            pitch_hz: 523,
            english: "Bye",
            native: "Tschüss",
        },
    ];

    fn duration_ms(phrases: &[Phrase]) -> u32 {
        phrases.len() as u32 * SLOT_MS
    }

    #[test]
    fn sine_matches_std() {
        for step in 0..1000 {
            let angle = 2.0 * PI * f64::from(step) / 1000.0;
            assert!((sine(angle) - angle.sin()).abs() < 1e-7, "{angle}");
        }
    }

    #[test]
    fn wav_length_matches_duration() {
        let bytes = wav(&PHRASES);
        let data_len = bytes.len() as u32 - 44;
        assert_eq!(data_len, duration_ms(&PHRASES) * SAMPLE_RATE / 1000 * 2);
        assert_eq!(&bytes[40..44], &data_len.to_le_bytes());
    }

    #[test]
    fn srt_cues() {
        let text = srt(&PHRASES, |p| p.native);
        assert_eq!(
            text,
            "1\n00:00:00,150 --> 00:00:01,050\nHallo\n\n\
             2\n00:00:01,350 --> 00:00:02,250\nTschüss\n\n"
        );
        assert_eq!(timestamp(3_723_004), "01:02:03,004");
    }
}
