fn main() {
    lalrpop::process_root().expect("lalrpop grammar generation failed");
}
