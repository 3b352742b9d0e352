//! A command-aware fuzzer: random commands drawn from the command table, with boundary
//! arguments (0, -1, the i64/u64 limits, huge counts, long and empty strings, bad UTF-8,
//! option keywords, a few shared key names so that types collide), nested MULTI, run
//! through the whole engine. No command may panic: a panic is caught at the command
//! boundary and logged as a `BUG:` line, and this test fails on the first one with the
//! command that caused it.
//!
//! `FORKV_FUZZ_COMMANDS=<n>` runs a longer campaign (default 30,000 commands per seed);
//! `FORKV_FUZZ_SEED=<n>` replays one seed.

use forkv_engine::table::{self, CommandSpec};
use forkv_engine::{Engine, Outcome};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: tiny, deterministic per seed, good enough to pick arguments.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const KEYS: &[&str] = &["k0", "k1", "k2", "{t}a", "{t}b"];

const NUMBERS: &[&str] = &[
    "0", "1", "-1", "2", "3", "7", "10", "100", "-100", "1000000", "1000000000", "4294967295", "4294967296",
    "2147483647", "-2147483648", "9223372036854775807", "-9223372036854775808", "9223372036854775806",
    "-9223372036854775807", "18446744073709551615", "18446744073709551616", "99999999999999999999", "1.5", "-0.5",
    "1e308", "-1e308", "1e-320", "inf", "-inf", "+inf", "nan", "0x10", " 1", "1 ", "", "-0", "(1", "(-inf", "[a",
    "(a", "-", "+", "*",
];

const WORDS: &[&str] = &[
    "EX", "PX", "EXAT", "PXAT", "NX", "XX", "GT", "LT", "CH", "INCR", "KEEPTTL", "GET", "PERSIST", "WITHSCORES",
    "WITHSCORE", "LIMIT", "COUNT", "BYSCORE", "BYLEX", "REV", "MATCH", "TYPE", "LEFT", "RIGHT", "BEFORE", "AFTER",
    "RANK", "MAXLEN", "IDLETIME", "FREQ", "REPLACE", "ABSTTL", "WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX", "MINMATCHLEN",
    "WITHVALUES", "FIELDS", "STORE", "BY", "ALPHA", "ASC", "DESC", "DB", "NOVALUES", "SCHEDULE", "ASYNC", "SYNC",
    "LEN", "IDX", "string", "list", "set", "zset", "hash", "encoding", "refcount", "freq", "idletime", "help",
    "ENCODING", "HELP", "NOMKSTREAM", "FULL",
];

fn long_string(rng: &mut Rng) -> Vec<u8> {
    let len = [300, 5_000, 70_000][rng.below(3)];
    (0..len).map(|i| b"abc\x00\xff"[(i + rng.below(5)) % 5]).collect()
}

fn argument(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0..=2 => KEYS[rng.below(KEYS.len())].as_bytes().to_vec(),
        3..=5 => NUMBERS[rng.below(NUMBERS.len())].as_bytes().to_vec(),
        6 | 7 => WORDS[rng.below(WORDS.len())].as_bytes().to_vec(),
        8 => match rng.below(4) {
            0 => vec![0xff, 0xfe, 0xc3],
            1 => b"v".to_vec(),
            2 => b"*?[a-".to_vec(),
            _ => Vec::new(),
        },
        _ => {
            if rng.chance(20) {
                long_string(rng)
            } else {
                format!("m{}", rng.below(20)).into_bytes()
            }
        }
    }
}

/// Commands that would stop the fuzzer itself rather than test the engine.
fn excluded(name: &str) -> bool {
    // DEBUG SLEEP sleeps for real.
    name == "debug|sleep"
}

fn command(rng: &mut Rng, specs: &[&'static CommandSpec]) -> Vec<Vec<u8>> {
    let spec = specs[rng.below(specs.len())];
    let mut argv: Vec<Vec<u8>> = Vec::new();
    let effective = if spec.subcommands.is_empty() {
        argv.push(spec.name.as_bytes().to_vec());
        spec
    } else {
        let sub = &spec.subcommands[rng.below(spec.subcommands.len())];
        argv.push(spec.name.as_bytes().to_vec());
        argv.push(sub.short_name().as_bytes().to_vec());
        sub
    };
    if excluded(effective.name) {
        return vec![b"PING".to_vec()];
    }
    let arity = effective.arity;
    let wanted = if arity > 0 && rng.chance(85) {
        arity as usize
    } else {
        arity.unsigned_abs() as usize + rng.below(7)
    };
    while argv.len() < wanted.max(1) {
        argv.push(argument(rng));
    }
    // A negative count asks these for |count| random picks with repetition: a reply of
    // billions of elements is what the client asked for (Valkey builds it too); keep
    // their counts small so that the campaign measures bugs, not this machine's RAM.
    if matches!(effective.name, "srandmember" | "zrandmember" | "hrandfield") {
        for a in argv.iter_mut().skip(2) {
            if a.first() == Some(&b'-') && a.len() > 4 {
                *a = b"-1000".to_vec();
            }
        }
    }
    // A key where the table says the first key is, most of the time.
    if effective.first_key > 0 && rng.chance(80) {
        if let Some(slot) = argv.get_mut(effective.first_key as usize) {
            *slot = KEYS[rng.below(KEYS.len())].as_bytes().to_vec();
        }
    }
    argv
}

fn encode(argv: &[Vec<u8>]) -> Vec<u8> {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    forkv_test_support::encode(&args)
}

fn show(argv: &[Vec<u8>]) -> String {
    argv.iter()
        .map(|a| {
            let s = String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned();
            if a.len() > 40 {
                format!("{s}...({} bytes)", a.len())
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs one seed; returns the command names that got at least one non-error reply (the
/// fuzzer is only worth something if it gets past the argument checks).
fn run_seed(seed: u64, commands: usize) -> std::collections::HashSet<Vec<u8>> {
    let mut succeeded = std::collections::HashSet::new();
    let specs: Vec<&'static CommandSpec> = table::all().collect();
    let mut rng = Rng(seed | 1);
    let mut engine = Engine::new(4);
    // A small proto-max-bulk-len keeps legitimate large allocations (SETRANGE near the
    // limit) cheap while still exercising every size check against it.
    engine.cfg.proto_max_bulk_len = 1 << 20;
    let client = 1;
    engine.add_client(client);
    for i in 0..commands {
        let argv = if rng.chance(2) {
            vec![b"MULTI".to_vec()]
        } else if rng.chance(2) {
            vec![b"EXEC".to_vec()]
        } else {
            command(&mut rng, &specs)
        };
        let mut outcome = engine.feed(client, &encode(&argv));
        // Host commands get a plain reply; blocked clients are released; a closed
        // connection is replaced.
        for _ in 0..8 {
            match outcome {
                Outcome::Host(_) => outcome = engine.resume(client, b"+OK\r\n"),
                Outcome::Blocked => {
                    engine.unblock(client, false);
                    outcome = engine.wake(client);
                }
                Outcome::Paused => outcome = engine.wake(client),
                Outcome::Close => {
                    engine.remove_client(client);
                    engine.add_client(client);
                    break;
                }
                Outcome::Done => break,
            }
        }
        if engine.reply().first().is_some_and(|&b| b != b'-') {
            succeeded.insert(argv[0].to_ascii_lowercase());
        }
        engine.clear_reply();
        let bugs: Vec<String> = engine.logs.take().into_iter().map(|l| l.message).filter(|m| m.starts_with("BUG")).collect();
        assert!(bugs.is_empty(), "seed {seed}, command #{i}: {}\n{}", show(&argv), bugs.join("\n"));
        let _ = engine.take_woken();
    }
    succeeded
}

#[test]
fn random_commands_never_panic() {
    let commands = std::env::var("FORKV_FUZZ_COMMANDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30_000);
    if let Some(seed) = std::env::var("FORKV_FUZZ_SEED").ok().and_then(|v| v.parse().ok()) {
        run_seed(seed, commands);
        return;
    }
    let mut succeeded = std::collections::HashSet::new();
    for seed in [1u64, 0x5eed, 0xdead_beef, 42_4242] {
        succeeded.extend(run_seed(seed, commands));
    }
    let total = table::all().count();
    eprintln!("{} of {total} commands got a non-error reply at least once", succeeded.len());
    assert!(
        succeeded.len() * 10 >= total * 7,
        "only {} of {total} commands ever got past their argument checks",
        succeeded.len()
    );
}
