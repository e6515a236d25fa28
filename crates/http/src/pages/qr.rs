//! The QR code of a page's own link, drawn by the server as inline SVG (one `<path>`, a few KB),
//! labelled for screen readers. No image request, no script: it prints with the page.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The QR code of `link` as an inline `<svg>` element with `role="img"` and `label` as its
/// accessible name; empty when the link cannot be encoded (it is logged).
pub(super) fn svg(link: &str, label: &str) -> String {
    let code = match QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, link, "cannot draw the QR code of a page");
            return String::new();
        }
    };
    let drawn = code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    // Inline in HTML: no XML declaration; the accessible name goes on the element.
    let Some(at) = drawn.find("<svg ") else {
        return String::new();
    };
    let (_, element) = drawn.split_at(at);
    let rest = element.strip_prefix("<svg ").unwrap_or(element);
    format!(
        "<svg role=\"img\" aria-label=\"{label}\" {rest}",
        label = escape_attribute(label)
    )
}

/// Text safe inside a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_labelled_svg() {
        let out = svg("http://billhub.test/b/ABCD1234", "QR \"code\" <link>");
        assert!(
            out.starts_with("<svg role=\"img\" aria-label=\"QR &quot;code&quot; &lt;link&gt;\" xmlns=\"http://www.w3.org/2000/svg\""),
            "{out}"
        );
        assert!(out.ends_with("</svg>"), "{out}");
        assert!(!out.contains("<?xml"));
        assert_eq!(out.matches("<path").count(), 1);
        assert!(out.len() < 8_000, "{} bytes", out.len());
    }
}
