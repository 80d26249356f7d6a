//! Pictures drawn pixel by pixel and encoded as PNG.
//!
//! All drawing uses integer arithmetic so the bytes are the same on every
//! machine, which keeps the demo library's checksums stable.

use std::io;

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// An RGB picture held in memory.
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
        for _ in 0..width as usize * height as usize {
            pixels.extend_from_slice(&[background.0, background.1, background.2]);
        }
        Canvas {
            width,
            height,
            pixels,
        }
    }

    pub fn set(&mut self, x: u32, y: u32, colour: Rgb) {
        if x < self.width && y < self.height {
            let at = (y as usize * self.width as usize + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&[colour.0, colour.1, colour.2]);
        }
    }

    fn get(&self, x: u32, y: u32) -> Rgb {
        let at = (y as usize * self.width as usize + x as usize) * 3;
        Rgb(self.pixels[at], self.pixels[at + 1], self.pixels[at + 2])
    }

    /// Fills the rectangle `[x, x+w) × [y, y+h)`, clipped to the canvas.
    pub fn fill_rect(&mut self, x: u32, y: u32, w: u32, h: u32, colour: Rgb) {
        for row in y..y.saturating_add(h).min(self.height) {
            for col in x..x.saturating_add(w).min(self.width) {
                self.set(col, row, colour);
            }
        }
    }

    /// Blends `colour` over a disc; `alpha` is out of 255.
    pub fn blend_disc(&mut self, cx: i64, cy: i64, radius: i64, colour: Rgb, alpha: u8) {
        for y in 0..self.height {
            for x in 0..self.width {
                let (dx, dy) = (i64::from(x) - cx, i64::from(y) - cy);
                if dx * dx + dy * dy <= radius * radius {
                    let under = self.get(x, y);
                    self.set(x, y, mix(under, colour, u32::from(alpha), 255));
                }
            }
        }
    }

    pub fn encode_png(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(out)
    }
}

/// Linear mix: `step / steps` of the way from `from` to `to`.
pub fn mix(from: Rgb, to: Rgb, step: u32, steps: u32) -> Rgb {
    let channel = |a: u8, b: u8| {
        let (a, b) = (u32::from(a), u32::from(b));
        ((a * (steps - step) + b * step + steps / 2) / steps) as u8
    };
    Rgb(
        channel(from.0, to.0),
        channel(from.1, to.1),
        channel(from.2, to.2),
    )
}

/// Hue in degrees (0..360), saturation and value out of 255.
pub fn hsv(hue: u32, saturation: u32, value: u32) -> Rgb {
    let hue = hue % 360;
    let sector = hue / 60;
    let within = (hue % 60) * 255 / 60;
    let low = value * (255 - saturation) / 255;
    let falling = value * (255 - saturation * within / 255) / 255;
    let rising = value * (255 - saturation * (255 - within) / 255) / 255;
    let (r, g, b) = match sector {
        0 => (value, rising, low),
        1 => (falling, value, low),
        2 => (low, value, rising),
        3 => (low, falling, value),
        4 => (rising, low, value),
        _ => (value, low, falling),
    };
    Rgb(r as u8, g as u8, b as u8)
}

/// A course cover: a diagonal gradient with a few soft circles.
pub fn cover(width: u32, height: u32, from: Rgb, to: Rgb) -> Canvas {
    let mut canvas = Canvas::new(width, height, from);
    let steps = width + height;
    for y in 0..height {
        for x in 0..width {
            canvas.set(x, y, mix(from, to, x + y, steps));
        }
    }
    let (w, h) = (i64::from(width), i64::from(height));
    let white = Rgb(255, 255, 255);
    canvas.blend_disc(w * 3 / 4, h / 3, h / 3, white, 40);
    canvas.blend_disc(w / 5, h * 4 / 5, h / 4, white, 30);
    canvas.blend_disc(w * 9 / 10, h * 9 / 10, h / 6, white, 50);
    canvas
}

/// Every hue left to right, fading to black from top to bottom.
pub fn hue_spectrum(width: u32, height: u32) -> Canvas {
    let mut canvas = Canvas::new(width, height, Rgb(0, 0, 0));
    for y in 0..height {
        let value = 255 - y * 255 / height;
        for x in 0..width {
            canvas.set(x, y, hsv(x * 360 / width, 255, value));
        }
    }
    canvas
}

/// One row of swatches per palette.
pub fn palettes(rows: &[&[Rgb]], swatch: u32) -> Canvas {
    let columns = rows.iter().map(|row| row.len()).max().unwrap_or(0) as u32;
    let gap = swatch / 8;
    let width = columns * (swatch + gap) + gap;
    let height = rows.len() as u32 * (swatch + gap) + gap;
    let mut canvas = Canvas::new(width, height, Rgb(250, 250, 250));
    for (r, row) in rows.iter().enumerate() {
        for (c, colour) in row.iter().enumerate() {
            let x = gap + c as u32 * (swatch + gap);
            let y = gap + r as u32 * (swatch + gap);
            canvas.fill_rect(x, y, swatch, swatch, *colour);
        }
    }
    canvas
}

/// A bar chart with a baseline; bar heights are scaled to the largest value.
pub fn bar_chart(values: &[u32], width: u32, height: u32, bar: Rgb) -> Canvas {
    let mut canvas = Canvas::new(width, height, Rgb(255, 255, 255));
    let margin = 24;
    let base = height - margin;
    let slot = (width - 2 * margin) / values.len().max(1) as u32;
    let top = values.iter().copied().max().unwrap_or(1).max(1);
    for (i, value) in values.iter().enumerate() {
        let bar_height = value * (base - margin) / top;
        let x = margin + i as u32 * slot + slot / 6;
        canvas.fill_rect(x, base - bar_height, slot * 2 / 3, bar_height, bar);
    }
    let axis = Rgb(60, 60, 60);
    canvas.fill_rect(margin, base, width - 2 * margin, 2, axis);
    canvas.fill_rect(margin, margin, 2, base - margin, axis);
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_primaries() {
        assert_eq!(hsv(0, 255, 255), Rgb(255, 0, 0));
        assert_eq!(hsv(120, 255, 255), Rgb(0, 255, 0));
        assert_eq!(hsv(240, 255, 255), Rgb(0, 0, 255));
        assert_eq!(hsv(77, 0, 200), Rgb(200, 200, 200));
    }

    #[test]
    fn mix_ends() {
        let (a, b) = (Rgb(0, 10, 200), Rgb(255, 20, 0));
        assert_eq!(mix(a, b, 0, 9), a);
        assert_eq!(mix(a, b, 9, 9), b);
    }

    #[test]
    fn png_decodes_to_size() {
        let bytes = cover(64, 36, Rgb(10, 20, 30), Rgb(200, 100, 50))
            .encode_png()
            .unwrap();
        let decoder = png::Decoder::new(bytes.as_slice());
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (64, 36));
    }
}
