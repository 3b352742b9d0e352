//! The readers against a real jemalloc: this test binary's global allocator.

#[global_allocator]
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[test]
fn the_version_is_major_minor_bugfix() {
    let v = forkv_jemalloc::version().expect("jemalloc has a version");
    let parts: Vec<&str> = v.split('.').collect();
    assert_eq!(parts.len(), 3, "{v}");
    assert!(parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())), "{v}");
}

#[test]
fn the_figures_follow_an_allocation_and_hold_together() {
    let before = forkv_jemalloc::figures().expect("stats are built in");
    let block: Vec<u8> = vec![7; 64 << 20];
    let during = forkv_jemalloc::figures().expect("stats");
    assert!(during.allocated >= before.allocated + (64 << 20) - (1 << 20), "{before:?} -> {during:?}");
    assert!(during.active >= during.allocated && during.resident >= during.active / 2, "{during:?}");
    assert_eq!(block.iter().map(|&b| usize::from(b)).sum::<usize>(), 7 * (64 << 20));
    drop(block);
    let after = forkv_jemalloc::figures().expect("stats");
    assert!(after.allocated + (32 << 20) < during.allocated, "freed: {during:?} -> {after:?}");
}

#[test]
fn the_report_and_the_purge_reach_jemalloc() {
    let report = forkv_jemalloc::stats_report();
    assert!(report.contains("jemalloc statistics"), "{}", &report[..report.len().min(200)]);
    assert!(report.contains("Allocated:"), "the stats feature is on");
    forkv_jemalloc::purge();
    assert!(forkv_jemalloc::size_of_stat(c"arenas.page").is_some_and(usize::is_power_of_two));
    assert_eq!(forkv_jemalloc::size_of_stat(c"no.such.stat"), None);
}
