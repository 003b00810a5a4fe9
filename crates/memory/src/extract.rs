//! Text out of uploaded files. Markdown stays Markdown and HTML becomes Markdown, so the chunker
//! sees their headings and paragraphs; PDF and plain text come out as paragraphs of text.

use serde::{Deserialize, Serialize};

/// The formats ingestion understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
}

impl Format {
    /// Every format, with the media types and file extensions that select it.
    pub const ALL: [(Format, &'static str, &'static [&'static str]); 4] = [
        (Format::Text, "text/plain", &["txt", "text"]),
        (Format::Markdown, "text/markdown", &["md", "markdown"]),
        (Format::Html, "text/html", &["html", "htm"]),
        (Format::Pdf, "application/pdf", &["pdf"]),
    ];

    /// From the declared media type, else the file name's extension. Generic media types
    /// (`application/octet-stream`, which browsers send for unknown files) defer to the name.
    pub fn detect(media_type: Option<&str>, file_name: &str) -> Option<Format> {
        let essence = media_type
            .map(|m| {
                m.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|m| !m.is_empty() && m != "application/octet-stream");
        if let Some(essence) = essence {
            let by_type = Self::ALL
                .iter()
                .find(|(_, mime, _)| *mime == essence)
                .map(|(f, ..)| *f);
            // `text/x-markdown` and friends are common aliases; unknown types fall through.
            if by_type.is_some() {
                return by_type;
            }
        }
        let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        Self::ALL
            .iter()
            .find(|(_, _, extensions)| extensions.contains(&extension.as_str()))
            .map(|(f, ..)| *f)
    }

    /// Must agree with [`Format::ALL`] (a test checks it).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
            Format::Html => "text/html",
            Format::Pdf => "application/pdf",
        }
    }

    /// Whether the extracted text is Markdown (and so is split on its headings).
    pub fn is_markdown(self) -> bool {
        matches!(self, Format::Markdown | Format::Html)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the file is not valid UTF-8 text")]
    NotUtf8,
    #[error("the PDF could not be read: {0}")]
    Pdf(String),
    #[error("the HTML could not be converted: {0}")]
    Html(String),
    #[error("the file contains no text")]
    Empty,
    #[error("the file holds {} MB of text, over the {} MB one document may hold: split it", .0 / 1_000_000, MAX_TEXT_BYTES / 1_000_000)]
    TooLarge(usize),
}

/// The most text one document may yield. An upload is bounded in bytes, but a compressed PDF
/// or a repetitive HTML page can expand many times over, and every byte of text becomes chunks
/// to embed and store.
pub const MAX_TEXT_BYTES: usize = 4_000_000;

/// Extracts the text of `bytes` in `format`.
pub fn extract(format: Format, bytes: &[u8]) -> Result<String, ExtractError> {
    let text = match format {
        Format::Text => std::str::from_utf8(bytes)
            .map_err(|_| ExtractError::NotUtf8)?
            .to_string(),
        Format::Markdown => {
            without_front_matter(std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?)
                .to_string()
        }
        Format::Html => {
            let html = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            htmd::HtmlToMarkdown::builder()
                .skip_tags(vec!["script", "style", "head", "nav", "noscript", "svg"])
                .build()
                .convert(html)
                .map_err(|e| ExtractError::Html(e.to_string()))?
        }
        // pdf-extract panics on some malformed files instead of returning an error; a bad upload
        // must fail its own ingestion, not the process.
        Format::Pdf => std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes))
            .map_err(|_| ExtractError::Pdf("the file is malformed".into()))?
            .map_err(|e| ExtractError::Pdf(e.to_string()))?,
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLarge(text.len()));
    }
    let text = normalise(&text);
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
}

/// Markdown without its leading YAML front matter (`---` … `---`), which is metadata, not text.
fn without_front_matter(markdown: &str) -> &str {
    let Some(rest) = markdown
        .strip_prefix("---\n")
        .or_else(|| markdown.strip_prefix("---\r\n"))
    else {
        return markdown;
    };
    match rest.find("\n---") {
        Some(end) => {
            let after = &rest[end + 4..];
            after.split_once('\n').map_or("", |(_, body)| body)
        }
        None => markdown,
    }
}

/// Unix newlines, no trailing spaces, at most one blank line in a row: PDF text in particular
/// comes with ragged spacing that would otherwise waste chunk space.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_lines = 0;
    for line in text.replace("\r\n", "\n").replace('\r', "\n").lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_beyond_the_limit_is_refused_with_its_size() {
        let text = "money ".repeat(MAX_TEXT_BYTES / 6 + 1);
        let error = extract(Format::Text, text.as_bytes()).unwrap_err();
        assert!(matches!(error, ExtractError::TooLarge(_)), "{error}");
        assert!(error.to_string().contains("split it"), "{error}");
    }

    #[test]
    fn the_media_type_wins_over_the_extension_unless_it_is_generic() {
        assert_eq!(
            Format::detect(Some("text/html; charset=utf-8"), "a.txt"),
            Some(Format::Html)
        );
        assert_eq!(
            Format::detect(Some("application/octet-stream"), "notes.MD"),
            Some(Format::Markdown)
        );
        assert_eq!(Format::detect(None, "scan.pdf"), Some(Format::Pdf));
        assert_eq!(Format::detect(Some("image/png"), "photo.png"), None);
        assert_eq!(Format::detect(None, "no-extension"), None);
    }

    #[test]
    fn each_format_names_the_media_type_it_is_detected_by() {
        for (format, mime, _) in Format::ALL {
            assert_eq!(format.media_type(), mime);
        }
    }

    #[test]
    fn html_becomes_markdown_without_scripts_or_styles() {
        let html = b"<html><head><title>t</title><style>p{}</style></head><body>
            <h1>Fees</h1><p>Low <b>costs</b> compound.</p><script>alert(1)</script></body></html>";
        let text = extract(Format::Html, html).unwrap();
        assert!(text.starts_with("# Fees"), "{text}");
        assert!(text.contains("Low **costs** compound."), "{text}");
        assert!(!text.contains("alert") && !text.contains("p{}"), "{text}");
    }

    #[test]
    fn an_empty_or_binary_file_is_refused_with_a_reason() {
        assert!(matches!(
            extract(Format::Text, b"  \n\n "),
            Err(ExtractError::Empty)
        ));
        assert!(matches!(
            extract(Format::Markdown, &[0xff, 0xfe, 0x00]),
            Err(ExtractError::NotUtf8)
        ));
        assert!(matches!(
            extract(Format::Pdf, b"%PDF-1.4 not really"),
            Err(ExtractError::Pdf(_))
        ));
    }

    #[test]
    fn markdown_front_matter_is_not_text() {
        let md = b"---\ntitle: Fees\ntopic: costs\n---\n# Fees\nLow costs.";
        assert_eq!(extract(Format::Markdown, md).unwrap(), "# Fees\nLow costs.");
        assert_eq!(
            extract(Format::Markdown, b"--- not front matter").unwrap(),
            "--- not front matter"
        );
    }

    #[test]
    fn ragged_whitespace_is_normalised() {
        assert_eq!(
            normalise("a  \r\n\r\n\r\n\nb\n c"),
            "a\n\nb\n c".to_string()
        );
    }
}
