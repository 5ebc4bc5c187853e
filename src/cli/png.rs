//! PNG plots: the SVG a command draws, rasterised by resvg at twice its size (1920 × 1200
//! for a line plot), anti-aliased, labels set in a system sans-serif font.
//!
//! resvg is the library made for this (a complete SVG renderer on tiny-skia, no system
//! libraries); drawing PNGs with plotters' bitmap backend instead would need a second
//! drawing path for every plot and snaps lines to pixels.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};
use sci::stdlib::Error;

/// Pixels per SVG unit.
const SCALE: f32 = 2.0;

/// Families tried for the plots' `sans-serif` text, in order (the first installed wins;
/// otherwise the first font found).
const SANS_SERIF: [&str; 6] = [
    "DejaVu Sans",
    "Liberation Sans",
    "Noto Sans",
    "FreeSans",
    "Arial",
    "Helvetica",
];

/// Whether `path` asks for a PNG.
pub fn is_png(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// The system's fonts with `sans-serif` set to an installed family, or an error saying
/// there is none (a PNG's labels would be missing). Checked before any work is done; the
/// fonts are looked up once per process (the check and the rendering share them).
pub fn fonts() -> Result<Arc<usvg::fontdb::Database>, Error> {
    static FONTS: OnceLock<Option<Arc<usvg::fontdb::Database>>> = OnceLock::new();
    FONTS.get_or_init(load_fonts).clone().ok_or_else(|| {
        Error::input("A PNG plot needs a font for its labels, and this system has none.").with_help(
            "install one (Debian: `apt-get install fonts-dejavu-core`), or write the plot \
                 as .svg",
        )
    })
}

/// The system's fonts, `None` when there are none.
fn load_fonts() -> Option<Arc<usvg::fontdb::Database>> {
    let mut db = usvg::fontdb::Database::new();
    db.load_system_fonts();
    let installed = |family: &str| {
        db.faces()
            .any(|f| f.families.iter().any(|(name, _)| name == family))
    };
    let family = SANS_SERIF
        .iter()
        .find(|f| installed(f))
        .map(|f| f.to_string())
        .or_else(|| {
            db.faces()
                .find_map(|f| f.families.first().map(|(name, _)| name.clone()))
        })?;
    db.set_sans_serif_family(family);
    Some(Arc::new(db))
}

/// The plot for `path`: the SVG itself, or rendered to PNG when `path` ends in `.png`.
pub fn plot_bytes<'s>(path: &Path, svg: &'s str) -> Result<Cow<'s, [u8]>, Error> {
    if !is_png(path) {
        return Ok(Cow::Borrowed(svg.as_bytes()));
    }
    let options = usvg::Options {
        fontdb: fonts()?,
        ..usvg::Options::default()
    };
    let failed = |why: String| Error::numerical(format!("Could not render the PNG: {why}."));
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| failed(e.to_string()))?;
    let size = tree.size().to_int_size().scale_by(SCALE);
    let size = size.ok_or_else(|| failed("the plot has no size".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| failed("the image would be empty".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    let png = pixmap.encode_png().map_err(|e| failed(e.to_string()))?;
    Ok(Cow::Owned(png))
}
