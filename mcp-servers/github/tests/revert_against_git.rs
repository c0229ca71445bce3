//! Our three-way revert against the `git` binary: for generated decK-like histories (random
//! entity edits over several commits), `revert::merge` must produce exactly the file
//! `git revert --no-edit` produces whenever git succeeds, and conflict whenever git does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use mcp_github::revert;

/// Cases per run (`REVERT_CASES` overrides); each is a fresh repository of 3 to 6 commits.
const CASES: u64 = 250;

/// xorshift64*: small, deterministic, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A decK file as a list of entities of three lines each.
fn render(entities: &[[String; 3]]) -> String {
    let mut out = String::from("_format_version: \"3.0\"\nservices:\n");
    for e in entities {
        for l in e {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn entity(rng: &mut Rng, id: u64) -> [String; 3] {
    [
        format!("- name: svc-{id}"),
        format!("  url: http://upstream-{}.internal:8080", rng.below(5)),
        format!("  retries: {}", rng.below(9)),
    ]
}

/// One random edit: change a field, add an entity, remove one, or move one (decK dumps
/// reorder entities, and moved blocks are where diff algorithms disagree).
fn edit(rng: &mut Rng, entities: &mut Vec<[String; 3]>, next_id: &mut u64) {
    match rng.below(6) {
        0 if entities.len() < 12 => {
            *next_id += 1;
            let at = rng.below(entities.len() + 1);
            let e = entity(rng, *next_id);
            entities.insert(at, e);
        }
        1 if entities.len() > 2 => {
            let at = rng.below(entities.len());
            entities.remove(at);
        }
        2 if entities.len() > 1 => {
            let from = rng.below(entities.len());
            let moved = entities.remove(from);
            let to = rng.below(entities.len() + 1);
            entities.insert(to, moved);
        }
        _ => {
            let at = rng.below(entities.len());
            let field = 1 + rng.below(2);
            entities[at][field] = if field == 1 {
                format!("  url: http://upstream-{}.internal:8080", 5 + rng.below(20))
            } else {
                format!("  retries: {}", 10 + rng.below(20))
            };
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs")
        .status
        .success()
}

fn commit(dir: &Path, text: &str, message: &str) {
    std::fs::write(dir.join("kong.yaml"), text).unwrap();
    assert!(git(dir, &["add", "kong.yaml"]));
    assert!(git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message
        ]
    ));
}

#[test]
fn our_revert_agrees_with_git_revert() {
    let (mut clean, mut conflicts, mut empty, mut unproven) = (0, 0, 0, 0);
    let cases = std::env::var("REVERT_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    for case in 0..cases {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (case + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(git(d, &["init", "-q", "-b", "main"]));
        let mut next_id = 0;
        let mut entities: Vec<[String; 3]> = (0..3 + rng.below(6))
            .map(|_| {
                next_id += 1;
                entity(&mut rng, next_id)
            })
            .collect();
        let parent = render(&entities);
        commit(d, &parent, "parent");
        for _ in 0..1 + rng.below(2) {
            edit(&mut rng, &mut entities, &mut next_id);
        }
        let reverted = render(&entities);
        commit(d, &reverted, "the commit to revert");
        for i in 0..1 + rng.below(3) {
            for _ in 0..1 + rng.below(2) {
                edit(&mut rng, &mut entities, &mut next_id);
            }
            commit(d, &render(&entities), &format!("later {i}"));
        }
        let head = render(&entities);
        let ours = revert::merge(&reverted, &head, &parent);
        // HEAD~n: the commit to revert is the second one.
        let log = Command::new("git")
            .args(["rev-list", "--reverse", "HEAD"])
            .current_dir(d)
            .output()
            .unwrap();
        let shas = String::from_utf8(log.stdout).unwrap();
        let target = shas.lines().nth(1).unwrap().to_string();
        let theirs = git(
            d,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "revert",
                "--no-edit",
                &target,
            ],
        );
        // git refuses a revert whose result is the head itself ("nothing to commit"): a clean
        // merge with nothing to revert. We must produce the head unchanged there.
        let git_text = std::fs::read_to_string(d.join("kong.yaml")).unwrap();
        if !theirs && !git_text.contains("<<<<<<<") {
            assert_eq!(
                ours.as_deref(),
                Ok(head.as_str()),
                "case {case}: an empty revert\nparent:\n{parent}\ncommit:\n{reverted}\nhead:\n{head}"
            );
            empty += 1;
            continue;
        }
        match (theirs, ours) {
            (true, Ok(text)) => {
                assert_eq!(
                    text, git_text,
                    "case {case}: git and we both merged, differently\nparent:\n{parent}\ncommit:\n{reverted}\nhead:\n{head}"
                );
                clean += 1;
            }
            (false, Err(_)) => conflicts += 1,
            // Refused as not reproducible (git's classic-diff fallback): never a wrong tree.
            (true, Err(c)) if c.unproven => unproven += 1,
            (true, Err(c)) => panic!(
                "case {case}: git reverted cleanly, we conflict at {:?}\nparent:\n{parent}\ncommit:\n{reverted}\nhead:\n{head}",
                c.ranges
            ),
            (false, Ok(text)) => panic!(
                "case {case}: git conflicts, we merged\nparent:\n{parent}\ncommit:\n{reverted}\nhead:\n{head}\nours:\n{text}"
            ),
        }
    }
    println!(
        "{cases} cases: {clean} clean reverts, {conflicts} conflicts, {empty} with nothing to revert, all as git decided; {unproven} refused as not reproducible"
    );
    assert!(
        clean > CASES / 10 && conflicts > CASES / 10,
        "both outcomes exercised: {clean} clean, {conflicts} conflicts"
    );
}
