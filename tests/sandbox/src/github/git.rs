//! A real git object store: blobs, trees and commits hashed exactly as git hashes them, so
//! object ids, trees and reverts can be checked the way git would check them.

use std::collections::{BTreeMap, HashMap};

use sha1::{Digest, Sha1};

/// A git object id (40 lowercase hex digits).
pub type Oid = String;

/// File mode of a regular file.
pub const MODE_FILE: &str = "100644";
/// File mode of a subtree.
pub const MODE_TREE: &str = "40000";

/// One entry of a tree object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub mode: String,
    pub name: String,
    pub oid: Oid,
}

/// A person and time on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
}

/// A commit object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub tree: Oid,
    pub parents: Vec<Oid>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

/// Any stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Blob(Vec<u8>),
    Tree(Vec<TreeEntry>),
    Commit(Commit),
}

/// Content-addressed object storage of one repository.
#[derive(Debug, Default)]
pub struct Odb {
    objects: HashMap<Oid, Object>,
}

fn hash(kind: &str, body: &[u8]) -> Oid {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", body.len()).as_bytes());
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_to_bytes(oid: &str) -> Vec<u8> {
    (0..oid.len() / 2)
        .filter_map(|i| u8::from_str_radix(oid.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

impl Signature {
    fn encode(&self) -> String {
        format!("{} <{}> {} +0000", self.name, self.email, self.time)
    }
}

impl Odb {
    /// The object with this id.
    pub fn get(&self, oid: &str) -> Option<&Object> {
        self.objects.get(oid)
    }

    /// True when `oid` is stored.
    pub fn contains(&self, oid: &str) -> bool {
        self.objects.contains_key(oid)
    }

    /// Stores a blob and returns its id.
    pub fn put_blob(&mut self, data: Vec<u8>) -> Oid {
        let oid = hash("blob", &data);
        self.objects.insert(oid.clone(), Object::Blob(data));
        oid
    }

    /// Stores a tree (entries in any order; git's order is applied) and returns its id.
    pub fn put_tree(&mut self, mut entries: Vec<TreeEntry>) -> Oid {
        // git sorts entries by name, comparing tree names as if they ended in '/'.
        let key = |e: &TreeEntry| {
            let mut k = e.name.clone().into_bytes();
            if e.mode == MODE_TREE {
                k.push(b'/');
            }
            k
        };
        entries.sort_by_key(key);
        let mut body = Vec::new();
        for e in &entries {
            body.extend_from_slice(format!("{} {}\0", e.mode, e.name).as_bytes());
            body.extend_from_slice(&hex_to_bytes(&e.oid));
        }
        let oid = hash("tree", &body);
        self.objects.insert(oid.clone(), Object::Tree(entries));
        oid
    }

    /// Stores a commit and returns its id.
    pub fn put_commit(&mut self, commit: Commit) -> Oid {
        let mut body = format!("tree {}\n", commit.tree);
        for p in &commit.parents {
            body.push_str(&format!("parent {p}\n"));
        }
        body.push_str(&format!("author {}\n", commit.author.encode()));
        body.push_str(&format!("committer {}\n\n", commit.committer.encode()));
        body.push_str(&commit.message);
        let oid = hash("commit", body.as_bytes());
        self.objects.insert(oid.clone(), Object::Commit(commit));
        oid
    }

    /// The commit with this id.
    pub fn commit(&self, oid: &str) -> Option<&Commit> {
        match self.objects.get(oid) {
            Some(Object::Commit(c)) => Some(c),
            _ => None,
        }
    }

    /// The blob with this id.
    pub fn blob(&self, oid: &str) -> Option<&[u8]> {
        match self.objects.get(oid) {
            Some(Object::Blob(b)) => Some(b),
            _ => None,
        }
    }

    /// Every file of a tree, recursively: path → (mode, blob id).
    pub fn flatten(&self, tree: &str) -> BTreeMap<String, (String, Oid)> {
        let mut out = BTreeMap::new();
        self.flatten_into(tree, "", &mut out);
        out
    }

    fn flatten_into(&self, tree: &str, prefix: &str, out: &mut BTreeMap<String, (String, Oid)>) {
        let Some(Object::Tree(entries)) = self.objects.get(tree) else {
            return;
        };
        for e in entries {
            let path = format!("{prefix}{}", e.name);
            if e.mode == MODE_TREE {
                self.flatten_into(&e.oid, &format!("{path}/"), out);
            } else {
                out.insert(path, (e.mode.clone(), e.oid.clone()));
            }
        }
    }

    /// Builds nested trees from a flat path map and returns the root tree id.
    pub fn build_tree(&mut self, files: &BTreeMap<String, (String, Oid)>) -> Oid {
        #[derive(Default)]
        struct Dir {
            files: Vec<TreeEntry>,
            dirs: BTreeMap<String, Dir>,
        }
        fn insert(dir: &mut Dir, parts: &[&str], mode: &str, oid: &str) {
            match parts {
                [name] => dir.files.push(TreeEntry {
                    mode: mode.into(),
                    name: (*name).into(),
                    oid: oid.into(),
                }),
                [first, rest @ ..] => insert(
                    dir.dirs.entry((*first).into()).or_default(),
                    rest,
                    mode,
                    oid,
                ),
                [] => {}
            }
        }
        fn write(odb: &mut Odb, dir: Dir) -> Oid {
            let mut entries = dir.files;
            for (name, sub) in dir.dirs {
                let oid = write(odb, sub);
                entries.push(TreeEntry {
                    mode: MODE_TREE.into(),
                    name,
                    oid,
                });
            }
            odb.put_tree(entries)
        }
        let mut root = Dir::default();
        for (path, (mode, oid)) in files {
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            insert(&mut root, &parts, mode, oid);
        }
        write(self, root)
    }

    /// First-parent history from `head`, newest first.
    pub fn first_parent_log(&self, head: &str) -> Vec<Oid> {
        let mut out = Vec::new();
        let mut next = Some(head.to_string());
        while let Some(oid) = next {
            let Some(c) = self.commit(&oid) else { break };
            next = c.parents.first().cloned();
            out.push(oid);
        }
        out
    }

    /// True when `ancestor` is reachable from `head` (any parent).
    pub fn is_ancestor(&self, ancestor: &str, head: &str) -> bool {
        let mut stack = vec![head.to_string()];
        let mut seen = std::collections::HashSet::new();
        while let Some(oid) = stack.pop() {
            if oid == ancestor {
                return true;
            }
            if seen.insert(oid.clone())
                && let Some(c) = self.commit(&oid)
            {
                stack.extend(c.parents.iter().cloned());
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_match_git() {
        let mut odb = Odb::default();
        // `printf 'hello\n' | git hash-object --stdin`
        let blob = odb.put_blob(b"hello\n".to_vec());
        assert_eq!(blob, "ce013625030ba8dba906f756967f9e9ca394464a");
        // The empty tree has a well-known id.
        assert_eq!(
            odb.put_tree(vec![]),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        let mut files = BTreeMap::new();
        files.insert("hello.txt".to_string(), (MODE_FILE.to_string(), blob));
        // `git mktree` of one file `hello.txt` holding "hello\n".
        assert_eq!(
            odb.build_tree(&files),
            "aaa96ced2d9a1c8e72c56b253a0e2fe78393feb7"
        );
    }
}
