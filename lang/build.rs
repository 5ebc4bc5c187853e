//! Build script: generates the parser from `src/grammar.lalrpop` with LALRPOP.

fn main() {
    lalrpop::process_root().expect("lalrpop grammar generation failed");
}
