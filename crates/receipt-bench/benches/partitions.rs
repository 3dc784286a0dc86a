//! The partitioned projections' figures behind docs/benchmarks.md's section on them; the
//! program lives in `receipt_bench::partitions`. `cargo bench --bench partitions -- --help`
//! lists its options (`--sizes 100000` takes a minute; the default 1 M and 10 M, about 25).

/// Counts heap bytes, so the partitions' bytes per event can be measured.
#[global_allocator]
static ALLOC: receipt_bench::run::Counting = receipt_bench::run::Counting::system();

fn main() -> receipt_bench::Result {
    receipt_bench::partitions::main(&ALLOC)
}
