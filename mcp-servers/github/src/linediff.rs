//! The line diff git's merge uses, so a revert conflicts exactly where `git revert` does.
//!
//! merge-ort hard-codes the histogram algorithm for content merges (`init_merge_options` in
//! git's merge-ort.c: `DIFF_WITH_ALG(opt, HISTOGRAM_DIFF)`, whatever `diff.algorithm` says),
//! and xdiff's merge then compacts each diff (`xdl_change_compact`, no indent heuristic).
//! Both are reimplemented here from git 2.47's `xdiff/xhistogram.c` and `xdiff/xdiffi.c`:
//! which common line anchors a region, the 64-occurrence limit past which git falls back to
//! its classic (Myers) diff, and how ambiguous groups slide. imara-diff's histogram differs
//! from git's (it trims common ends first and breaks ties otherwise), and where histories
//! move a block that difference flips a clean revert into a conflict or back; the property
//! test in `tests/revert_against_git.rs` drives the `git` binary to hold this module to git.
//! git falls back to its classic (Myers) diff for a region where every common line repeats
//! more than 64 times; its exact output there depends on xdiff's preprocessing, which no Rust
//! crate reproduces (imara-diff's Myers differs in both directions), so such a diff is reported
//! as not reproducible and the revert is refused instead of guessed.

use std::collections::HashMap;

/// git's `max_chain_length`: a line occurring more often than this in a region cannot anchor it.
const MAX_CHAIN: u32 = 64;

/// Which lines of `a` were removed and which of `b` were added, as git's merge diffs them;
/// `None` when git would fall back to its classic diff somewhere (not reproduced exactly).
pub(crate) fn changed_lines<'l>(a: &[&'l str], b: &[&'l str]) -> Option<(Vec<bool>, Vec<bool>)> {
    let mut ids: HashMap<&'l str, u32> = HashMap::new();
    let mut intern = |l: &'l str| {
        let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        *ids.entry(l).or_insert(next)
    };
    let a: Vec<u32> = a.iter().map(|l| intern(l)).collect();
    let b: Vec<u32> = b.iter().map(|l| intern(l)).collect();
    let mut diff = Diff {
        a: &a,
        b: &b,
        removed: vec![false; a.len()],
        added: vec![false; b.len()],
    };
    // git's histogram diff recurses left and loops right; the regions are disjoint, so a
    // work list gives the same marks without a stack as deep as the file is long.
    let mut work = vec![Region {
        a: 0..a.len(),
        b: 0..b.len(),
    }];
    while let Some(region) = work.pop() {
        if !diff.histogram(region, &mut work) {
            return None;
        }
    }
    let (mut removed, mut added) = (diff.removed, diff.added);
    compact(&a, &mut removed, &added);
    compact(&b, &mut added, &removed);
    Some((removed, added))
}

/// Half-open line ranges of `a` and `b` still to diff.
#[derive(Debug, Clone)]
struct Region {
    a: std::ops::Range<usize>,
    b: std::ops::Range<usize>,
}

struct Diff<'t> {
    a: &'t [u32],
    b: &'t [u32],
    removed: Vec<bool>,
    added: Vec<bool>,
}

/// The longest common run found so far, inclusive on both sides.
#[derive(Debug, Clone, Copy)]
struct Run {
    a: (usize, usize),
    b: (usize, usize),
}

enum Anchor {
    /// No line of `b` occurs in `a`: everything changed.
    Nothing,
    /// Common lines exist, but each occurs too often to anchor the region.
    TooCommon,
    Run(Run),
}

impl Diff<'_> {
    /// One region; `false` when git would diff it with its classic fallback.
    fn histogram(&mut self, region: Region, work: &mut Vec<Region>) -> bool {
        let Region { a, b } = region;
        if a.is_empty() || b.is_empty() {
            self.mark(a, b);
            return true;
        }
        match self.anchor(&a, &b) {
            Anchor::Nothing => self.mark(a, b),
            Anchor::TooCommon => return false,
            Anchor::Run(run) => {
                work.push(Region {
                    a: run.a.1 + 1..a.end,
                    b: run.b.1 + 1..b.end,
                });
                work.push(Region {
                    a: a.start..run.a.0,
                    b: b.start..run.b.0,
                });
            }
        }
        true
    }

    fn mark(&mut self, a: std::ops::Range<usize>, b: std::ops::Range<usize>) {
        for r in self.removed.get_mut(a).unwrap_or_default() {
            *r = true;
        }
        for r in self.added.get_mut(b).unwrap_or_default() {
            *r = true;
        }
    }

    /// git's `find_lcs`: the common run whose rarest line is rarest in `a`, longest on ties,
    /// scanning `b` from the top and each line's occurrences in `a` in order.
    fn anchor(&self, ra: &std::ops::Range<usize>, rb: &std::ops::Range<usize>) -> Anchor {
        let at_a = |i: usize| self.a.get(i).copied();
        let at_b = |i: usize| self.b.get(i).copied();
        // Occurrences in the region of `a`: the first of each line, the next after each,
        // and how many (git scans bottom-up and prepends, so chains run top-down).
        let mut first: HashMap<u32, usize> = HashMap::new();
        let mut count: HashMap<u32, u32> = HashMap::new();
        let mut next: Vec<Option<usize>> = vec![None; ra.len()];
        for i in ra.clone().rev() {
            let Some(id) = at_a(i) else { continue };
            if let Some(&f) = first.get(&id)
                && let Some(slot) = next.get_mut(i - ra.start)
            {
                *slot = Some(f);
            }
            first.insert(id, i);
            *count.entry(id).or_insert(0) += 1;
        }
        let cnt_at = |i: usize| at_a(i).and_then(|id| count.get(&id).copied()).unwrap_or(0);
        let next_of = |i: usize| next.get(i - ra.start).copied().flatten();

        let mut best: Option<Run> = None;
        let mut best_cnt = MAX_CHAIN + 1;
        let mut has_common = false;
        let mut bp = rb.start;
        while bp < rb.end {
            let mut b_next = bp + 1;
            let id = at_b(bp);
            let occurs = id.and_then(|id| first.get(&id).map(|&f| (f, count.get(&id))));
            if let Some((f, Some(&cnt))) = occurs {
                has_common = true;
                if cnt <= best_cnt {
                    let mut at = f;
                    loop {
                        let np = next_of(at);
                        let (mut a0, mut b0, mut a1, mut b1, mut rc) = (at, bp, at, bp, cnt);
                        while a0 > ra.start && b0 > rb.start && at_a(a0 - 1) == at_b(b0 - 1) {
                            a0 -= 1;
                            b0 -= 1;
                            if rc > 1 {
                                rc = rc.min(cnt_at(a0));
                            }
                        }
                        while a1 + 1 < ra.end && b1 + 1 < rb.end && at_a(a1 + 1) == at_b(b1 + 1) {
                            a1 += 1;
                            b1 += 1;
                            if rc > 1 {
                                rc = rc.min(cnt_at(a1));
                            }
                        }
                        if b_next <= b1 {
                            b_next = b1 + 1;
                        }
                        let span = best.map_or(0, |r| r.a.1 - r.a.0);
                        if span < a1 - a0 || rc < best_cnt {
                            best = Some(Run {
                                a: (a0, a1),
                                b: (b0, b1),
                            });
                            best_cnt = rc;
                        }
                        // The next occurrence past this run.
                        let mut np = np;
                        while let Some(n) = np {
                            if n > a1 {
                                break;
                            }
                            np = next_of(n);
                        }
                        match np {
                            Some(n) => at = n,
                            None => break,
                        }
                    }
                }
            }
            bp = b_next;
        }
        if has_common && best_cnt > MAX_CHAIN {
            Anchor::TooCommon
        } else {
            best.map_or(Anchor::Nothing, Anchor::Run)
        }
    }
}

/// git's `xdl_change_compact` without the indent heuristic: slide each group of changed
/// lines in `lines` up as far as it goes, then down as far as it goes (merging groups it
/// bumps into), and finally back up to line up with a change in the other file if it can.
/// `go` walks the other file's groups in step (git's `group_previous`/`group_next` on it).
fn compact(lines: &[u32], changed: &mut [bool], other: &[bool]) {
    let mut g = first_group(changed);
    let mut go = first_group(other);
    loop {
        if g.1 > g.0 {
            let mut earliest_end;
            let mut end_matching_other: Option<usize>;
            loop {
                let size = g.1 - g.0;
                end_matching_other = None;
                while slide_up(lines, changed, &mut g) {
                    if !group_previous(other, &mut go) {
                        return;
                    }
                }
                earliest_end = g.1;
                if go.1 > go.0 {
                    end_matching_other = Some(g.1);
                }
                while slide_down(lines, changed, &mut g) {
                    if !group_next(other, &mut go) {
                        return;
                    }
                    if go.1 > go.0 {
                        end_matching_other = Some(g.1);
                    }
                }
                if size == g.1 - g.0 {
                    break;
                }
            }
            if g.1 != earliest_end && end_matching_other.is_some() {
                // Back up to the last position aligned with a change in the other file.
                while go.1 == go.0 {
                    if !slide_up(lines, changed, &mut g) || !group_previous(other, &mut go) {
                        return;
                    }
                }
            }
        }
        if !group_next(changed, &mut g) || !group_next(other, &mut go) {
            return;
        }
    }
}

/// A group: `[start, end)` of changed lines; empty between two unchanged lines.
type Group = (usize, usize);

fn is_changed(c: &[bool], i: usize) -> bool {
    c.get(i).copied().unwrap_or(false)
}

fn first_group(c: &[bool]) -> Group {
    let mut end = 0;
    while is_changed(c, end) {
        end += 1;
    }
    (0, end)
}

/// The next group, or `false` at the end of the file.
fn group_next(c: &[bool], g: &mut Group) -> bool {
    if g.1 >= c.len() {
        return false;
    }
    g.0 = g.1 + 1;
    g.1 = g.0;
    while is_changed(c, g.1) {
        g.1 += 1;
    }
    true
}

/// The previous group, or `false` at the start of the file.
fn group_previous(c: &[bool], g: &mut Group) -> bool {
    if g.0 == 0 {
        return false;
    }
    g.1 = g.0 - 1;
    g.0 = g.1;
    while g.0 > 0 && is_changed(c, g.0 - 1) {
        g.0 -= 1;
    }
    true
}

/// Moves `g` one line up when the line above it equals its last line, absorbing a group it
/// then touches (git's `group_slide_up`).
fn slide_up(lines: &[u32], changed: &mut [bool], g: &mut Group) -> bool {
    let movable = g.0 > 0
        && g.1 > 0
        && lines.get(g.0 - 1).is_some()
        && lines.get(g.0 - 1) == lines.get(g.1 - 1);
    if !movable {
        return false;
    }
    g.0 -= 1;
    g.1 -= 1;
    set(changed, g.0, true);
    set(changed, g.1, false);
    while g.0 > 0 && is_changed(changed, g.0 - 1) {
        g.0 -= 1;
    }
    true
}

/// Moves `g` one line down when the line below it equals its first line, absorbing a group
/// it then touches (git's `group_slide_down`).
fn slide_down(lines: &[u32], changed: &mut [bool], g: &mut Group) -> bool {
    let movable = g.1 < lines.len() && lines.get(g.0).is_some() && lines.get(g.0) == lines.get(g.1);
    if !movable {
        return false;
    }
    set(changed, g.0, false);
    set(changed, g.1, true);
    g.0 += 1;
    g.1 += 1;
    while is_changed(changed, g.1) {
        g.1 += 1;
    }
    true
}

fn set(changed: &mut [bool], i: usize, v: bool) {
    if let Some(c) = changed.get_mut(i) {
        *c = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &str, b: &str) -> (Vec<bool>, Vec<bool>) {
        let a: Vec<&str> = a.split_inclusive('\n').collect();
        let b: Vec<&str> = b.split_inclusive('\n').collect();
        changed_lines(&a, &b).expect("a histogram diff")
    }

    #[test]
    fn the_rarest_longest_run_anchors_as_in_git() {
        // git diff --histogram: "url-2 / retries 8" (unique in a, a run of two) anchors, so
        // the svc-1 and svc-2 lines above it are removed and re-added below it.
        let a = "v\ns\n- svc-1\n  u3\n  r2\n- svc-2\n  u2\n  r8\n";
        let b = "v\ns\n- svc-4\n  u2\n  r8\n- svc-1\n  u12\n  r2\n- svc-2\n  u15\n  r8\n";
        let (removed, added) = diff(a, b);
        assert_eq!(
            removed,
            [false, false, true, true, true, true, false, false]
        );
        assert_eq!(
            added,
            [
                false, false, true, false, false, true, true, true, true, true, true
            ]
        );
    }

    #[test]
    fn an_ambiguous_insertion_slides_down() {
        let (removed, added) = diff("a\nb\n", "a\nb\na\nb\n");
        assert_eq!(removed, [false, false]);
        assert_eq!(added, [false, false, true, true]);
    }

    #[test]
    fn a_region_git_would_diff_with_its_fallback_is_not_guessed() {
        // Every common line occurs more than 64 times: git's classic diff, not reproduced.
        let a = "x\n".repeat(70) + "p\n";
        let b = "x\n".repeat(71) + "q\n";
        let a: Vec<&str> = a.split_inclusive('\n').collect();
        let b: Vec<&str> = b.split_inclusive('\n').collect();
        assert_eq!(changed_lines(&a, &b), None);
        // Fewer repeats anchor normally.
        let (removed, added) = diff(&("x\n".repeat(10) + "p\n"), &("x\n".repeat(11) + "p\n"));
        assert_eq!(removed.iter().filter(|r| **r).count(), 0);
        assert_eq!(added.iter().filter(|r| **r).count(), 1);
    }
}
