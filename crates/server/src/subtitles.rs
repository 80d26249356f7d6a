//! Subtitles for the browser: `<track>` plays only WebVTT, libraries hold
//! mostly SubRip (`.srt`). The two differ in the header, the decimal comma
//! of timestamps and in what a cue may contain.

/// WebVTT text from the bytes of an `.srt` or `.vtt` file. Bytes that are
/// not UTF-8 are read as Latin-1, the usual encoding of older `.srt` files.
pub fn to_webvtt(bytes: &[u8]) -> String {
    let text = decode(bytes);
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let text = text.replace('\r', "\n");
    if text.starts_with("WEBVTT") {
        return text;
    }
    let mut out = String::from("WEBVTT\n\n");
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        push_cue(&mut out, block);
    }
    out
}

fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// One SubRip block: an optional number, the timing line, the text. A block
/// without a timing line is dropped, as players do.
fn push_cue(out: &mut String, block: &str) {
    let mut lines = block.lines().skip_while(|l| !l.contains("-->"));
    let Some(timing) = lines.next() else { return };
    out.push_str(&timing_line(timing));
    out.push('\n');
    for line in lines {
        // A blank line would end the cue early in WebVTT; "-->" in the
        // text would start a new one.
        out.push_str(&line.replace("-->", "→"));
        out.push('\n');
    }
    out.push('\n');
}

/// `00:00:01,500 --> 00:00:04,000 X1:…` → `00:00:01.500 --> 00:00:04.000`.
fn timing_line(line: &str) -> String {
    let mut parts = line.split("-->").map(str::trim);
    let start = parts.next().unwrap_or_default();
    let end = parts
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or_default();
    format!("{} --> {}", timestamp(start), timestamp(end))
}

/// SubRip allows `1:02:03,4`; WebVTT wants `01:02:03.400`.
fn timestamp(value: &str) -> String {
    let value = value.replace(',', ".");
    let (clock, fraction) = value.split_once('.').unwrap_or((&value, "0"));
    let mut fields: Vec<u64> = clock
        .split(':')
        .map(|f| f.trim().parse().unwrap_or(0))
        .collect();
    while fields.len() < 3 {
        fields.insert(0, 0);
    }
    let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
    let millis: u64 = millis.parse().unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02}.{millis:03}",
        fields[0], fields[1], fields[2]
    )
}

#[cfg(test)]
mod tests {
    use super::to_webvtt;

    #[test]
    fn subrip_becomes_webvtt() {
        let srt = "\u{feff}1\r\n00:00:01,000 --> 00:00:04,250\r\nHello\r\nworld\r\n\r\n2\r\n00:01:00,5 --> 01:00:02,000 X1:10\r\nNext --> line\r\n";
        assert_eq!(
            to_webvtt(srt.as_bytes()),
            "WEBVTT\n\n00:00:01.000 --> 00:00:04.250\nHello\nworld\n\n\
             00:01:00.500 --> 01:00:02.000\nNext → line\n\n"
        );
    }

    #[test]
    fn webvtt_passes_through_and_latin1_is_decoded() {
        let vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n";
        assert_eq!(to_webvtt(vtt.as_bytes()), vtt);
        let latin1 = b"1\n00:00:00,000 --> 00:00:01,000\nGr\xfc\xdfe\n";
        assert!(to_webvtt(latin1).contains("Grüße"));
    }

    #[test]
    fn blocks_without_timing_are_dropped_and_garbage_does_not_panic() {
        assert_eq!(to_webvtt(b"just text\n\nmore"), "WEBVTT\n\n");
        let odd = to_webvtt(b"1\n-->\n\n:::,:: --> ,\nx");
        assert!(odd.starts_with("WEBVTT"));
    }
}
