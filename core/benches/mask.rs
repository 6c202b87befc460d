//! Unmasking throughput (RFC 6455 §5.3) against `copy_from_slice` of the same size: in-place
//! XOR costs a load and a store per byte, as a copy does, so memcpy is the yardstick.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use wslens::mask::apply_mask;

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for size in [16usize, 125, 1024, 16 * 1024, 1024 * 1024] {
        group.throughput(Throughput::Bytes(size as u64));
        let src: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut buf = src.clone();
        group.bench_with_input(
            BenchmarkId::new("wslens apply_mask", size),
            &size,
            |b, _| {
                b.iter(|| apply_mask(black_box(&mut buf), black_box([0x37, 0xfa, 0x21, 0x3d]), 0))
            },
        );
        let mut dst = vec![0u8; size];
        group.bench_with_input(BenchmarkId::new("copy_from_slice", size), &size, |b, _| {
            b.iter(|| black_box(&mut dst).copy_from_slice(black_box(&src)))
        });
    }
    group.finish();
}

criterion_group!(benches, unmask);
criterion_main!(benches);
