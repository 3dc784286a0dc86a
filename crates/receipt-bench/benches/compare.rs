//! The comparison with SQLite and raw sled behind docs/benchmarks.md; the program lives in
//! `receipt_bench::run`. `cargo bench --bench compare -- --help` lists its options;
//! `-- --quick` takes a few minutes, the full run about half an hour.

/// Counts heap bytes, so the state's cost per event kind can be measured.
#[global_allocator]
static ALLOC: receipt_bench::run::Counting = receipt_bench::run::Counting::system();

fn main() -> receipt_bench::Result {
    receipt_bench::run::main(&ALLOC)
}
