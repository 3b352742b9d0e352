//! The ACL command family: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG,
//! DRYRUN, GENPASS, HELP, with Valkey's replies and errors. The users and the checks
//! are in `crate::acl`.

use crate::acl::categories::{commands_in, is_category, CATEGORIES};
use crate::acl::{self, dryrun_message};
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Engine as E, Exec::Host};
use crate::{Engine, Outcome};

const F: u32 = NOSCRIPT | LOADING | STALE;
const A: u32 = ADMIN | F;

pub const COMMANDS: &[CommandSpec] =
    &[container("acl", -2, 0, "server", "6.0.0", "A container for Access List Control commands.", SUBCOMMANDS)];

const SUBCOMMANDS: &[CommandSpec] = &[
    spec("acl|cat", -2, F, (0, 0, 0), "server", "6.0.0", "O(1) since the categories and commands are a fixed set.", "Lists the ACL categories, or the commands inside a category.", E(cat)),
    spec("acl|deluser", -3, A, (0, 0, 0), "server", "6.0.0", "O(1) amortized time considering the typical user.", "Deletes ACL users, and terminates their connections.", E(deluser)),
    spec("acl|dryrun", -4, A, (0, 0, 0), "server", "7.0.0", "O(1).", "Simulates the execution of a command by a user, without executing the command.", E(dryrun)),
    spec("acl|genpass", -2, F, (0, 0, 0), "server", "6.0.0", "O(1)", "Generates a pseudorandom, secure password that can be used to identify ACL users.", E(genpass)),
    spec("acl|getuser", 3, A, (0, 0, 0), "server", "6.0.0", "O(N). Where N is the number of password, command and pattern rules that the user has.", "Lists the ACL rules of a user.", E(getuser)),
    spec("acl|help", 2, LOADING | STALE, (0, 0, 0), "server", "6.0.0", "O(1)", "Returns helpful text about the different subcommands.", E(help)),
    spec("acl|list", 2, A, (0, 0, 0), "server", "6.0.0", "O(N). Where N is the number of configured users.", "Dumps the effective rules in ACL file format.", E(list)),
    // SAVE and LOAD read and write the aclfile: the host owns files (ts/commands/acl.ts);
    // the text format is `Acl::to_file_text` / `Acl::load_file_text`.
    spec("acl|load", 2, A, (0, 0, 0), "server", "6.0.0", "O(N). Where N is the number of configured users.", "Reloads the rules from the configured ACL file.", Host),
    spec("acl|log", -2, A, (0, 0, 0), "server", "6.0.0", "O(N) with N being the number of entries shown.", "Lists recent security events generated due to ACL rules.", E(log)),
    spec("acl|save", 2, A, (0, 0, 0), "server", "6.0.0", "O(N). Where N is the number of configured users.", "Saves the effective ACL rules in the configured ACL file.", Host),
    spec("acl|setuser", -3, A, (0, 0, 0), "server", "6.0.0", "O(N). Where N is the number of rules provided.", "Creates and modifies an ACL user and its rules.", E(setuser)),
    spec("acl|users", 2, A, (0, 0, 0), "server", "6.0.0", "O(N). Where N is the number of configured users.", "Lists all ACL users.", E(users)),
    spec("acl|whoami", 2, F, (0, 0, 0), "server", "6.0.0", "O(1)", "Returns the authenticated username of the current connection.", E(whoami)),
];

/// Runs `f` with a reply writer in the client's protocol.
fn reply(e: &mut Engine, id: u64, f: impl FnOnce(&mut Reply<'_>)) -> Outcome {
    let proto = e.clients.get(&id).map_or(2, |c| c.proto);
    f(&mut Reply::new(&mut e.out, proto));
    Outcome::Done
}

fn err(e: &mut Engine, id: u64, msg: &str) -> Outcome {
    reply(e, id, |r| r.error(msg))
}

fn setuser(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    match e.acl.setuser(argv[2], &argv[3..]) {
        Ok(()) => reply(e, id, |r| r.ok()),
        Err(m) => err(e, id, &m),
    }
}

fn getuser(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    let Some(u) = e.acl.user(&name).cloned() else {
        return reply(e, id, |r| r.null());
    };
    reply(e, id, |r| {
        r.map(6);
        r.bulk(b"flags");
        let flags = u.flags();
        r.array(flags.len());
        for f in flags {
            r.bulk(f.as_bytes());
        }
        r.bulk(b"passwords");
        r.array(u.passwords.len());
        for p in &u.passwords {
            r.bulk(p.as_bytes());
        }
        let sel = |r: &mut Reply<'_>, s: &acl::selector::Selector| {
            r.bulk(b"commands");
            r.bulk(s.describe_commands().as_bytes());
            r.bulk(b"keys");
            r.bulk(s.describe_keys().as_bytes());
            r.bulk(b"channels");
            r.bulk(s.describe_channels().as_bytes());
        };
        sel(r, &u.root);
        r.bulk(b"selectors");
        r.array(u.selectors.len());
        for s in &u.selectors {
            r.map(3);
            sel(r, s);
        }
    })
}

fn deluser(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    if argv[2..].iter().any(|n| *n == b"default") {
        return err(e, id, "ERR The 'default' user cannot be removed");
    }
    let mut n = 0;
    for name in &argv[2..] {
        if e.acl.deluser(name) {
            n += 1;
            // Connections authenticated as a deleted user are closed (after the reply
            // of the command they are running, at their next input).
            for c in e.clients.values_mut() {
                if c.user.as_deref().map(str::as_bytes) == Some(*name) {
                    c.closing = true;
                }
            }
        }
    }
    // The caller itself may be among them: it gets its reply, then is closed.
    let closing = e.clients.get(&id).is_some_and(|c| c.closing);
    reply(e, id, |r| r.int(n));
    if closing {
        Outcome::Close
    } else {
        Outcome::Done
    }
}

fn list(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let lines: Vec<String> = e.acl.users().map(|u| format!("user {} {}", u.name, u.describe())).collect();
    reply(e, id, |r| {
        r.array(lines.len());
        for l in &lines {
            r.bulk(l.as_bytes());
        }
    })
}

fn users(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let names: Vec<String> = e.acl.names().map(str::to_string).collect();
    reply(e, id, |r| {
        r.array(names.len());
        for n in &names {
            r.bulk(n.as_bytes());
        }
    })
}

fn whoami(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let name = e.clients.get(&id).and_then(|c| c.user.clone()).unwrap_or_else(|| "default".into());
    reply(e, id, |r| r.bulk(name.as_bytes()))
}

fn cat(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    match argv.len() {
        2 => reply(e, id, |r| {
            r.array(CATEGORIES.len());
            for c in CATEGORIES {
                r.bulk(c.as_bytes());
            }
        }),
        3 => {
            let name = String::from_utf8_lossy(argv[2]).into_owned();
            if !is_category(&name) {
                return err(e, id, &format!("ERR Unknown category '{name}'"));
            }
            let names: Vec<&str> = commands_in(&name).map(|c| c.name).collect();
            reply(e, id, |r| {
                r.array(names.len());
                for n in &names {
                    r.bulk(n.as_bytes());
                }
            })
        }
        // Valkey's addReplySubcommandSyntaxError, naming the subcommand as the client wrote it.
        _ => err(
            e,
            id,
            &format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
                String::from_utf8_lossy(argv[1])
            ),
        ),
    }
}

fn genpass(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let bits = match argv.get(2) {
        None => 256,
        Some(a) => match std::str::from_utf8(a).ok().and_then(|s| s.parse::<i64>().ok()) {
            Some(b) if (1..=4096).contains(&b) => b as usize,
            _ if argv.len() > 3 => return err(e, id, "ERR wrong number of arguments for 'acl|genpass' command"),
            _ => {
                return err(
                    e,
                    id,
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                )
            }
        },
    };
    if argv.len() > 3 {
        return err(e, id, "ERR wrong number of arguments for 'acl|genpass' command");
    }
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    let Some(rng) = e.secure_random.as_mut() else {
        return err(e, id, "ERR no secure random source: the server did not seed one");
    };
    rng.fill(&mut bytes);
    let mut hex = acl::sha256::hex(&bytes);
    hex.truncate(chars);
    reply(e, id, |r| r.bulk(hex.as_bytes()))
}

fn dryrun(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    if e.acl.user(&name).is_none() {
        return err(e, id, &format!("ERR User '{name}' not found"));
    }
    let cmd_argv = &argv[3..];
    let Some(mut spec) = crate::table::lookup(cmd_argv[0]) else {
        return err(e, id, &format!("ERR Command '{}' not found", String::from_utf8_lossy(cmd_argv[0])));
    };
    if let Some(sub) = cmd_argv.get(1).and_then(|s| spec.subcommand(s)) {
        spec = sub;
    }
    if !spec.arity_ok(cmd_argv.len()) {
        return err(e, id, &format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    match e.acl.check(Some(&name), spec, cmd_argv) {
        Ok(()) => reply(e, id, |r| r.ok()),
        Err(refusal) => {
            let msg = dryrun_message(&name, &refusal);
            reply(e, id, |r| r.bulk(msg.as_bytes()))
        }
    }
}

fn log(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    if argv.len() > 3 {
        return err(e, id, "ERR wrong number of arguments for 'acl|log' command");
    }
    let mut count = usize::MAX;
    if let Some(a) = argv.get(2) {
        if a.eq_ignore_ascii_case(b"reset") {
            e.acl.log.reset();
            return reply(e, id, |r| r.ok());
        }
        match std::str::from_utf8(a).ok().and_then(|s| s.parse::<i64>().ok()) {
            Some(n) if n >= 0 => count = n as usize,
            _ => return err(e, id, "ERR value is out of range, must be positive"),
        }
    }
    let now = super::now_ms().max(0) as u64;
    let entries: Vec<acl::log::LogEntry> = e.acl.log.entries().take(count).cloned().collect();
    reply(e, id, |r| {
        r.array(entries.len());
        for en in &entries {
            r.map(10);
            r.bulk(b"count");
            r.int(en.count as i64);
            r.bulk(b"reason");
            r.bulk(en.reason.as_bytes());
            r.bulk(b"context");
            r.bulk(en.context.as_bytes());
            r.bulk(b"object");
            r.bulk(en.object.as_bytes());
            r.bulk(b"username");
            r.bulk(en.username.as_bytes());
            r.bulk(b"age-seconds");
            r.double(now.saturating_sub(en.created_ms) as f64 / 1000.0);
            r.bulk(b"client-info");
            r.bulk(en.client_info.as_bytes());
            r.bulk(b"entry-id");
            r.int(en.entry_id as i64);
            r.bulk(b"timestamp-created");
            r.int(en.created_ms as i64);
            r.bulk(b"timestamp-last-updated");
            r.int(en.updated_ms as i64);
        }
    })
}

fn help(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    const LINES: &[&str] = &[
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    ];
    reply(e, id, |r| r.help("ACL", LINES))
}
