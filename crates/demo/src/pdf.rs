//! A one-page PDF written by hand: a title and a few lines of Helvetica.

/// Builds a complete PDF 1.4 file with one A4 page.
pub fn one_page(title: &str, lines: &[&str]) -> Vec<u8> {
    let stream = page_content(title, lines);
    let mut content = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
    content.extend_from_slice(&stream);
    content.extend_from_slice(b"\nendstream");
    let mut info = b"<< /Title (".to_vec();
    info.extend(pdf_string(title));
    info.extend_from_slice(b") /Producer (Lectern demo) >>");
    let objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
          /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>"
            .to_vec(),
        content,
        font("Helvetica"),
        font("Helvetica-Bold"),
        info,
    ];
    assemble(&objects)
}

fn font(name: &str) -> Vec<u8> {
    format!("<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>")
        .into_bytes()
}

fn page_content(title: &str, lines: &[&str]) -> Vec<u8> {
    let mut out = b"BT\n/F2 22 Tf\n72 760 Td\n(".to_vec();
    out.extend(pdf_string(title));
    out.extend_from_slice(b") Tj\n/F1 12 Tf\n16 TL\n0 -12 Td\n");
    for line in lines {
        out.extend_from_slice(b"T* (");
        out.extend(pdf_string(line));
        out.extend_from_slice(b") Tj\n");
    }
    out.extend_from_slice(b"ET");
    out
}

/// Numbers objects from 1, then writes the cross-reference table whose
/// byte offsets readers use to jump straight to each object.
fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref_at = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        table.push_str(&format!("{offset:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
        objects.len() + 1,
        objects.len()
    ));
    out.extend_from_slice(table.as_bytes());
    out
}

/// The body of a PDF literal string in WinAnsi encoding.
///
/// WinAnsi agrees with Latin-1 for printable ASCII and U+00A0..U+00FF,
/// which covers the accents in the sample courses; anything else becomes
/// `?` because the standard fonts have no glyph for it.
fn pdf_string(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => out.extend_from_slice(&[b'\\', c as u8]),
            ' '..='~' | '\u{A0}'..='\u{FF}' => out.push(c as u8),
            _ => out.push(b'?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_specials_and_encodes_latin1() {
        assert_eq!(pdf_string("a (b) \\ ü €"), b"a \\(b\\) \\\\ \xFC ?");
    }

    #[test]
    fn header_trailer_and_offsets() {
        let pdf = one_page("Title (1)", &["line one", "¿Qué tal?"]);
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        for n in 1..=7 {
            let needle = format!("\n{n} 0 obj\n");
            let at = find(&pdf, needle.as_bytes()) + 1;
            find(&pdf, format!("{at:010} 00000 n \n").as_bytes());
        }
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    }
}
