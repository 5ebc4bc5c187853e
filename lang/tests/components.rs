//! Components (`component name = Model(param: value)`): the expansion before checking,
//! and its diagnostics.

use sci_diag::{FileId, render_plain};
use sci_lang::analyze;

fn tanks() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/tanks.sci"
    ))
    .unwrap()
}

/// The host gets the components' members under their names; bindings become `let`s of
/// the host's values, unbound parameters stay parameters (in θ), and `upper.outflow` in
/// the host reads the upper tank's quantity.
#[test]
fn components_expand_into_the_host() {
    let text = tanks();
    let a = analyze(FileId(0), &text);
    assert!(
        a.diagnostics.is_empty(),
        "{}",
        render_plain(&text, &a.diagnostics)
    );
    let host = a.modules.iter().find(|m| m.name == "TwoTanks").unwrap();
    let params: Vec<&str> = host.params.slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        params,
        ["feed", "upper.outlet", "lower.area", "lower.outlet"]
    );
    let states: Vec<&str> = host.states.slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(states, ["upper.h", "lower.h"]);
    assert!(a.modules.iter().any(|m| m.name == "Tank"));
}

fn errors(text: &str) -> String {
    let a = analyze(FileId(0), text);
    render_plain(text, &a.diagnostics)
}

/// What cannot be a component, named with the component's path.
#[test]
fn component_errors_name_the_model_and_the_path() {
    let base = tanks();
    let cases = [
        (
            base.replace("= Tank(area: 2.0", "= Tnak(area: 2.0"),
            "There is no model called `Tnak`",
        ),
        (
            base.replace(
                "Tank(area: 2.0, inflow: feed)",
                "Tank(area: 2.0, infow: feed)",
            ),
            "`Tank` has no parameter or constant `infow` to bind",
        ),
        (
            base.replace("upper.h - lower.h", "upper.level - lower.h"),
            "The component `upper` (a `Tank`) has no `level`",
        ),
        (
            base.replace(
                "    domain time: t in [0, 100]",
                "    component me = TwoTanks()\n    domain time: t in [0, 100]",
            ),
            "Models cannot contain themselves",
        ),
    ];
    for (text, message) in cases {
        let shown = errors(&text);
        assert!(shown.contains(message), "expected `{message}` in:\n{shown}");
    }
    // A unit mismatch in a binding is reported at the binding, with the component path.
    let shown = errors(&base.replace("inflow: upper.outflow", "inflow: upper.h"));
    assert!(shown.contains("lower.inflow"), "{shown}");
    // A mistake inside the component's model is reported once, by its own model.
    let broken = base.replace(
        "der(h) = (inflow - outflow) / area",
        "der(h) = (inflow - outflow) / area + h",
    );
    let shown = errors(&broken);
    assert_eq!(shown.matches("error[").count(), 1, "{shown}");
}
