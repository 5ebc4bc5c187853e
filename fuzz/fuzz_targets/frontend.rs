//! Fuzz target: any bytes through the whole front end (parse → check → lower → validate)
//! and the formatter. The only property checked is the architecture invariant: no panic,
//! no hang, no stack overflow, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = sci::diag::FileId(0);
    let analysis = sci::analyze(file, &text);
    for module in &analysis.modules {
        let _ = sci::ir::validate::validate_module(module);
    }
    let _ = sci::lang::fmt::format_source(file, &text);
});
