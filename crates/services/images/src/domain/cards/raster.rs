//! SVG to PNG with resvg, in DejaVu Sans from the binary itself: a card renders the same on a
//! laptop, in a container with no fonts installed, and in CI.

use std::sync::{Arc, OnceLock};

use miyagi_kernel::{ImageSize, KernelError};
use resvg::{tiny_skia, usvg};

fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut fonts = usvg::fontdb::Database::new();
            fonts.load_font_data(dejavu::sans::regular().to_vec());
            fonts.load_font_data(dejavu::sans::bold().to_vec());
            Arc::new(fonts)
        })
        .clone()
}

pub fn png(svg: &str, size: ImageSize) -> Result<Vec<u8>, KernelError> {
    let options = usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    // The SVG is our own drawing: a parse error is a bug in `draw`, not the person's prompt.
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| KernelError::BadResponse(format!("the card's SVG is invalid: {e}")))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width, size.height)
        .ok_or_else(|| KernelError::BadResponse(format!("no canvas of {size}")))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| KernelError::BadResponse(format!("the card could not be encoded: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_renders_in_the_embedded_font() {
        let size = ImageSize::parse("256x256").unwrap();
        let blank = png(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"></svg>"#,
            size,
        )
        .unwrap();
        let words = png(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" font-family="DejaVu Sans"><text x="10" y="100" font-size="40">Miyagi</text></svg>"#,
            size,
        )
        .unwrap();
        assert!(words.starts_with(b"\x89PNG"));
        assert_ne!(blank, words, "the text drew nothing: no font was found");
    }
}
