//! `sci run --plot` as a reader sees the figure: chosen quantities labelled with their units,
//! a legend beside the data, arrays as space–time heat maps, logarithmic time sampled
//! geometrically. Plots are checked by their structure (elements, labels, coordinates).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sci"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sci binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_plots")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The texts of an SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = t.split_once('>')?.1;
            Some(body.split("</text>").next()?.trim().to_string())
        })
        .collect()
}

#[test]
fn chosen_quantities_are_labelled_with_their_units() {
    let dir = scratch("units");
    let plot = dir.join("p.svg");
    let out = sci(&[
        "run",
        "examples/pendulum.sci",
        "--plot",
        path(&plot),
        "--vars",
        "theta,omega,energy",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let labels = texts(&std::fs::read_to_string(&plot).unwrap());
    for label in [
        "theta",
        "omega [1/s]",
        "energy [m^2/s^2]",
        "Pendulum",
        "t",
        "value",
    ] {
        assert!(
            labels.iter().any(|t| t == label),
            "{label} not in {labels:?}"
        );
    }
    // Nothing else: `height` was not chosen.
    assert!(
        !labels.iter().any(|t| t.starts_with("height")),
        "{labels:?}"
    );
    // One quantity: the axis is its name and unit.
    let out = sci(&[
        "run",
        "examples/pendulum.sci",
        "--plot",
        path(&plot),
        "--vars",
        "omega",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let labels = texts(&std::fs::read_to_string(&plot).unwrap());
    assert!(!labels.iter().any(|t| t == "value"), "{labels:?}");
}

#[test]
fn a_large_array_state_is_drawn_as_a_space_time_heat_map() {
    let dir = scratch("heat");
    let plot = dir.join("h.svg");
    let out = sci(&[
        "run",
        "examples/heat1d.sci",
        "--points",
        "21",
        "--plot",
        path(&plot),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&plot).unwrap();
    // 21 times × 200 cells, plus the colour bar's bands.
    let cells = svg.matches("<rect").count();
    assert!(cells >= 21 * 200 + 64, "{cells}");
    let labels = texts(&svg);
    for label in ["t", "index", "u"] {
        assert!(
            labels.iter().any(|t| t == label),
            "{label} not in {labels:?}"
        );
    }
    // Single elements are lines on request; arrays and lines do not mix.
    let out = sci(&[
        "run",
        "examples/heat1d.sci",
        "--plot",
        path(&plot),
        "--vars",
        "u[0],u[100]",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let labels = texts(&std::fs::read_to_string(&plot).unwrap());
    assert!(labels.iter().any(|t| t == "u[100]"), "{labels:?}");
    for (vars, message) in [
        ("u,mid", "mixes arrays drawn as heat maps"),
        ("w", "the model has no state or output `w`"),
        ("u[999]", "the model has no state or output `u[999]`"),
    ] {
        let out = sci(&[
            "run",
            "examples/heat1d.sci",
            "--plot",
            path(&plot),
            "--vars",
            vars,
        ]);
        assert_eq!(out.status.code(), Some(2), "{vars}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{vars}: {}", stderr(&out));
    }
}

#[test]
fn logarithmic_time_is_sampled_geometrically() {
    let dir = scratch("log_t");
    let (table, plot) = (dir.join("r.csv"), dir.join("r.svg"));
    let out = sci(&[
        "run",
        "examples/robertson.sci",
        "--log-t",
        "--points",
        "41",
        "--out",
        path(&table),
        "--plot",
        path(&plot),
        "--log-y",
        "--vars",
        "y1,y2,y3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&table).unwrap();
    let t: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(t.len(), 41);
    // t0, then 1e-8 of the span up to its end, a constant ratio apart.
    assert_eq!((t[0], t[1], t[40]), (0.0, 1e-3, 1e5));
    let ratio = t[2] / t[1];
    for w in t[1..].windows(2) {
        assert!((w[1] / w[0] / ratio - 1.0).abs() < 1e-9, "{t:?}");
    }
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

#[test]
fn output_at_every_step_keeps_what_the_solver_resolved() {
    let dir = scratch("saveat");
    let table = dir.join("v.csv");
    let out = sci(&[
        "run",
        "examples/van_der_pol.sci",
        "--saveat",
        "steps",
        "--out",
        path(&table),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // One row per step and one for t0, as the solver reports them.
    let steps: usize = stdout
        .split(" steps,")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    let text = std::fs::read_to_string(&table).unwrap();
    let t: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(t.len(), steps + 1, "{stdout}");
    assert_eq!((t[0], *t.last().unwrap()), (0.0, 3000.0));
    assert!(t.windows(2).all(|w| w[0] < w[1]));
    // The relaxation jumps take many short steps: far more rows than the default 201,
    // the shortest step far below an even spacing's 15.
    let shortest = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    assert!(
        t.len() > 1000 && shortest < 1e-3,
        "{} rows, {shortest}",
        t.len()
    );

    let out = sci(&[
        "run",
        "examples/van_der_pol.sci",
        "--saveat",
        "11",
        "--out",
        path(&table),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&table).unwrap().lines().count(), 12);
    for (args, message) in [
        (vec!["--saveat", "often"], "names no output times"),
        (vec!["--saveat", "1"], "at least 2 output times"),
        (
            vec!["--saveat", "steps", "--times", "0,1"],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["run", "examples/van_der_pol.sci"];
        all.extend(args);
        let out = sci(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(stderr(&out).contains(message), "{all:?}: {}", stderr(&out));
    }
}

#[test]
fn a_fit_is_plotted_over_the_data_it_was_fitted_to() {
    let dir = scratch("overlay");
    let plot = dir.join("fit.svg");
    let rows = std::fs::read_to_string("examples/data/lv_obs.csv")
        .unwrap()
        .lines()
        .count()
        - 1;
    let circles = |svg: &str| svg.matches("<circle class=\"data\"").count();
    let out = sci(&["run", "examples/lv_ude.sci", "--plot", path(&plot)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&plot).unwrap();
    // Every observation of both states, in the colour of the state it observes.
    assert_eq!(circles(&svg), 2 * rows);
    let labels = texts(&svg);
    for label in ["prey", "pred", "prey (obs)", "pred (obs)"] {
        assert!(labels.iter().any(|l| l == label), "{label}: {labels:?}");
    }
    let colour_of = |class_and_attr: &str| {
        let at = svg.find(class_and_attr).unwrap();
        let stroke = svg[at..].split("stroke=\"").nth(1).unwrap();
        stroke.split('"').next().unwrap().to_string()
    };
    assert_eq!(
        colour_of("<polyline class=\"series\""),
        colour_of("<circle class=\"data\"")
    );
    // Only the observations of what is drawn.
    let out = sci(&[
        "run",
        "examples/lv_ude.sci",
        "--plot",
        path(&plot),
        "--vars",
        "pred",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(circles(&std::fs::read_to_string(&plot).unwrap()), rows);

    // A data file that cannot be read costs the markers, not the plot.
    let model = dir.join("ude.sci");
    let source = std::fs::read_to_string("examples/lv_ude.sci").unwrap();
    std::fs::write(&model, source.replace("data/lv_obs.csv", "missing.csv")).unwrap();
    let out = sci(&["run", path(&model), "--plot", path(&plot)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: the plot shows no observations"),
        "{}",
        stderr(&out)
    );
    assert_eq!(circles(&std::fs::read_to_string(&plot).unwrap()), 0);
}

#[test]
fn plots_are_also_written_as_png() {
    use resvg::tiny_skia::Pixmap;
    let dir = scratch("png");
    let plot = dir.join("robertson.png");
    let out = sci(&[
        "run",
        "examples/robertson.sci",
        "--log-t",
        "--log-y",
        "--plot",
        path(&plot),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&plot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let image = Pixmap::decode_png(&bytes).unwrap();
    // Twice the SVG's 960 × 600.
    assert_eq!((image.width(), image.height()), (1920, 1200));
    let pixels = image.pixels();
    let rgb = |k: usize| {
        let p = pixels[k].demultiply();
        (
            i32::from(p.red()),
            i32::from(p.green()),
            i32::from(p.blue()),
        )
    };
    let count = |pred: &dyn Fn((i32, i32, i32)) -> bool| {
        (0..pixels.len()).filter(|&k| pred(rgb(k))).count()
    };
    // The first line in its colour, and its edges blended towards the background
    // (anti-aliased, not snapped to whole pixels).
    let line = count(&|(r, g, b)| (r, g, b) == (31, 119, 180));
    let blended =
        count(&|(r, g, b)| b > r + 40 && b > g && r > 31 && r < 235 && (r, g, b) != (31, 119, 180));
    assert!(line > 1000, "{line}");
    assert!(blended > 200, "{blended}");
    // The labels are set: dark pixels in the title band and along the left axis.
    let width = image.width() as usize;
    let dark_in = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
        rows.flat_map(|y| cols.clone().map(move |x| y * width + x))
            .filter(|&k| {
                let (r, g, b) = rgb(k);
                r < 80 && g < 80 && b < 80
            })
            .count()
    };
    assert!(dark_in(0..100, 0..1500) > 100, "no title");
    assert!(dark_in(100..1100, 100..240) > 100, "no tick labels");

    // The loss plot of a training run too; another extension is refused before any work.
    let model = dir.join("model.png");
    let out = sci(&[
        "train",
        "examples/poisson2d_pinn.sci",
        "--steps",
        "3",
        "--plot",
        path(&model),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(&model).unwrap().starts_with(b"\x89PNG"));
    let out = sci(&[
        "run",
        "examples/robertson.sci",
        "--plot",
        path(&dir.join("r.jpg")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("must end in .svg, .png"),
        "{}",
        stderr(&out)
    );
}
