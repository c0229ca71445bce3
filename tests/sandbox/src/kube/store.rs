//! The object store: typed keys, resource versions, a bounded change history for watches.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::approval::{self, Identity};
use super::selector::Selector;
use super::status::ApiError;
use super::types::{ResourceType, builtins};

/// How many changes a watch can resume from; older resource versions get 410 Gone.
const HISTORY: usize = 2048;

/// `(group, plural, namespace, name)`; the namespace is empty for cluster-scoped objects.
type Key = (String, String, String, String);

/// One change, as a watch delivers it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub event: &'static str,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub object: Value,
}

/// The query part of a list or watch.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub namespace: Option<String>,
    pub labels: Selector,
    pub fields: Selector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    rv: u64,
    uid: u64,
    types: Vec<ResourceType>,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Change>,
    /// `(namespace, pod, container, previous)` -> log text.
    logs: HashMap<(String, String, String, bool), String>,
}

/// An in-memory cluster.
#[derive(Debug)]
pub struct Cluster {
    state: Mutex<State>,
    changes: broadcast::Sender<Change>,
    accesses: Mutex<Vec<Access>>,
    /// Writes to run just before the next PATCH of an object (`plural`, `name`): another
    /// client's update landing between a reader's GET and its PATCH, at a chosen moment.
    before_patch: Mutex<Vec<(String, String, PatchHook)>>,
    /// Answers for the next PATCHes of an object instead of applying them: an API server
    /// that is overloaded (429) or unavailable (503) for a moment.
    failing_patches: Mutex<Vec<(String, String, u16)>>,
}

/// A write that lands first; see [`Cluster::before_next_patch`].
pub struct PatchHook(Box<dyn FnOnce(&Cluster) + Send>);

impl std::fmt::Debug for PatchHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatchHook")
    }
}

/// One authorized-looking request, in RBAC terms (what a Role would have to allow).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    pub user: String,
    pub verb: String,
    pub group: String,
    /// `plural` or `plural/subresource`.
    pub resource: String,
    /// Empty for cluster-scoped or all-namespace requests.
    pub namespace: String,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Cluster {
    /// A cluster serving the built-in types and holding a `default` namespace.
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(4096);
        let cluster = Self {
            state: Mutex::new(State {
                types: builtins(),
                ..State::default()
            }),
            changes,
            accesses: Mutex::new(Vec::new()),
            before_patch: Mutex::new(Vec::new()),
            failing_patches: Mutex::new(Vec::new()),
        };
        for ns in ["default", "kube-system"] {
            let _ = cluster.create_raw(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            );
        }
        cluster
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records a resource request (the API server's audit log, in RBAC terms).
    pub fn record_access(&self, access: Access) {
        crate::github::lock(&self.accesses).push(access);
    }

    /// Runs `hook` just before the next PATCH of `plural` `name` is applied (a race, made
    /// deterministic: someone else's write lands between a client's read and its write).
    pub fn before_next_patch(
        &self,
        plural: &str,
        name: &str,
        hook: impl FnOnce(&Cluster) + Send + 'static,
    ) {
        crate::github::lock(&self.before_patch).push((
            plural.to_string(),
            name.to_string(),
            PatchHook(Box::new(hook)),
        ));
    }

    /// Makes the next PATCH of `plural` `name` fail with `code` (429 or 5xx), once per call.
    pub fn fail_next_patch(&self, plural: &str, name: &str, code: u16) {
        crate::github::lock(&self.failing_patches).push((
            plural.to_string(),
            name.to_string(),
            code,
        ));
    }

    /// The injected failure for this PATCH, if one is waiting.
    pub fn take_patch_failure(&self, plural: &str, name: &str) -> Option<ApiError> {
        let mut failing = crate::github::lock(&self.failing_patches);
        let at = failing
            .iter()
            .position(|(p, n, _)| p == plural && n == name)?;
        let (_, _, code) = failing.remove(at);
        Some(match code {
            429 => ApiError::new(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            ),
            503 => ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            _ => ApiError::new(
                code,
                "InternalError",
                "an error on the server (\"unknown\") has prevented the request from succeeding",
            ),
        })
    }

    /// Runs (once) the hooks waiting for a PATCH of `plural` `name`.
    pub fn run_patch_hooks(&self, plural: &str, name: &str) {
        let due: Vec<PatchHook> = {
            let mut hooks = crate::github::lock(&self.before_patch);
            let (due, keep): (Vec<_>, Vec<_>) = hooks
                .drain(..)
                .partition(|(p, n, _)| p == plural && n == name);
            *hooks = keep;
            due.into_iter().map(|(_, _, h)| h).collect()
        };
        for PatchHook(hook) in due {
            hook(self);
        }
    }

    /// Every resource request so far.
    pub fn accesses(&self) -> Vec<Access> {
        crate::github::lock(&self.accesses).clone()
    }

    /// Every served type.
    pub fn types(&self) -> Vec<ResourceType> {
        self.lock().types.clone()
    }

    /// The type served at `group/version` under `plural`.
    pub fn resolve(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.lock()
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type for an object's `apiVersion` and `kind`.
    pub fn type_of(&self, obj: &Value) -> Option<ResourceType> {
        let api_version = obj["apiVersion"].as_str()?;
        let kind = obj["kind"].as_str()?;
        self.lock()
            .types
            .iter()
            .find(|t| t.api_version() == api_version && t.kind == kind)
            .cloned()
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// The oldest resource version a watch may resume from.
    pub fn oldest_resumable(&self) -> u64 {
        let st = self.lock();
        st.history
            .front()
            .map(|c| c.rv.saturating_sub(1))
            .unwrap_or(st.rv)
    }

    /// Drops the change history, so every older resource version answers 410 Gone.
    pub fn compact(&self) {
        self.lock().history.clear();
    }

    /// Subscribes to live changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Changes after `rv` still in the history.
    pub fn changes_since(&self, rv: u64) -> Vec<Change> {
        self.lock()
            .history
            .iter()
            .filter(|c| c.rv > rv)
            .cloned()
            .collect()
    }

    /// Stores a pod container's log (`previous` for the last terminated instance).
    pub fn set_log(&self, namespace: &str, pod: &str, container: &str, previous: bool, text: &str) {
        self.lock().logs.insert(
            (namespace.into(), pod.into(), container.into(), previous),
            text.into(),
        );
    }

    /// A pod container's log; `container` defaults to the pod's only container.
    pub fn log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String, ApiError> {
        let st = self.lock();
        let key = (
            String::new(),
            "pods".to_string(),
            namespace.to_string(),
            pod.to_string(),
        );
        let obj = st
            .objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found("pods", pod))?;
        let names: Vec<String> = obj["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        let container = match container {
            Some(c) if names.iter().any(|n| n == c) => c.to_string(),
            Some(c) => {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {pod}"
                )));
            }
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        };
        let text = st
            .logs
            .get(&(namespace.into(), pod.into(), container.clone(), previous));
        match (text, previous) {
            (Some(t), _) => Ok(t.clone()),
            (None, true) => Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod}\" not found"
            ))),
            (None, false) => Ok(String::new()),
        }
    }

    /// Creates an object as the cluster itself (seeds), bypassing admission.
    pub fn create_raw(&self, obj: Value) -> Result<Value, ApiError> {
        let rt = self.type_of(&obj).ok_or_else(|| {
            ApiError::bad_request(format!("no kind {} is registered", obj["kind"]))
        })?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        self.create(&rt, &ns, obj)
    }

    /// Creates an object of type `rt` in `namespace` (ignored for cluster-scoped types).
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: &str,
        mut obj: Value,
    ) -> Result<Value, ApiError> {
        let name = match obj["metadata"]["name"].as_str() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match obj["metadata"]["generateName"].as_str() {
                Some(prefix) => format!("{prefix}{:05x}", self.lock().uid + 1),
                None => {
                    return Err(ApiError::invalid(format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        rt.kind
                    )));
                }
            },
        };
        let ns = if rt.namespaced {
            namespace.to_string()
        } else {
            String::new()
        };
        if let Some(body_ns) = obj["metadata"]["namespace"].as_str()
            && rt.namespaced
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut st = self.lock();
        if rt.namespaced
            && !st.objects.contains_key(&(
                String::new(),
                "namespaces".into(),
                String::new(),
                ns.clone(),
            ))
            && rt.plural != "namespaces"
            && !st.objects.is_empty()
        {
            return Err(ApiError::not_found("namespaces", &ns));
        }
        let key = (
            rt.group.clone(),
            rt.plural.clone(),
            ns.clone(),
            name.clone(),
        );
        if st.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&rt.plural, &name));
        }
        st.uid += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", st.uid);
        let meta = &mut obj["metadata"];
        meta["name"] = json!(name);
        if rt.namespaced {
            meta["namespace"] = json!(ns);
        }
        meta["uid"] = json!(uid);
        meta["generation"] = json!(1);
        if meta["creationTimestamp"].is_null() {
            meta["creationTimestamp"] = json!(now());
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if rt.plural == "approvaltasks" {
            approval::reconcile(&mut obj, &now());
        }
        if rt.plural == "customresourcedefinitions" {
            for t in ResourceType::from_crd(&obj) {
                if !st.types.contains(&t) {
                    st.types.push(t);
                }
            }
        }
        Ok(Self::commit(&mut st, &self.changes, key, "ADDED", obj))
    }

    fn commit(
        st: &mut State,
        tx: &broadcast::Sender<Change>,
        key: Key,
        event: &'static str,
        mut obj: Value,
    ) -> Value {
        st.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        let change = Change {
            rv: st.rv,
            event,
            group: key.0.clone(),
            plural: key.1.clone(),
            namespace: key.2.clone(),
            object: obj.clone(),
        };
        if event == "DELETED" {
            st.objects.remove(&key);
        } else {
            st.objects.insert(key, obj.clone());
        }
        st.history.push_back(change.clone());
        if st.history.len() > HISTORY {
            st.history.pop_front();
        }
        let _ = tx.send(change);
        obj
    }

    /// Reads one object.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let ns = if rt.namespaced { namespace } else { "" };
        self.lock()
            .objects
            .get(&(
                rt.group.clone(),
                rt.plural.clone(),
                ns.to_string(),
                name.to_string(),
            ))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.plural, name))
    }

    /// Lists objects; returns the items, the list's resource version and a continue token.
    pub fn list(
        &self,
        rt: &ResourceType,
        q: &ListQuery,
    ) -> Result<(Vec<Value>, u64, Option<String>), ApiError> {
        let st = self.lock();
        let offset: usize = match &q.continue_token {
            Some(t) => t
                .parse()
                .map_err(|_| ApiError::bad_request("invalid continue token"))?,
            None => 0,
        };
        let items: Vec<Value> = st
            .objects
            .iter()
            .filter(|((g, p, ns, _), _)| {
                *g == rt.group
                    && *p == rt.plural
                    && q.namespace.as_ref().is_none_or(|want| want == ns)
            })
            .map(|(_, v)| v)
            .filter(|v| q.labels.matches_labels(v) && q.fields.matches_fields(v))
            .skip(offset)
            .cloned()
            .collect();
        let (items, next) = match q.limit {
            Some(limit) if limit > 0 && items.len() > limit => {
                (items[..limit].to_vec(), Some((offset + limit).to_string()))
            }
            _ => (items, None),
        };
        Ok((items, st.rv, next))
    }

    /// Replaces an object (PUT), or only its status when `status_only`.
    pub fn replace(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        obj: Value,
        status_only: bool,
        user: &Identity,
    ) -> Result<Value, ApiError> {
        self.update_with(rt, namespace, name, status_only, user, |_| Ok(obj))
    }

    /// Computes the new object from the current one under the store's lock (patches), then
    /// applies update semantics: resourceVersion preconditions, the status subresource split,
    /// generation bumps, admission and the approval gate's reconcile.
    pub fn update_with(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        status_only: bool,
        user: &Identity,
        compute: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let ns = if rt.namespaced { namespace } else { "" };
        let key = (
            rt.group.clone(),
            rt.plural.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let mut st = self.lock();
        let old = st
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.plural, name))?;
        let mut obj = compute(&old)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be an object"));
        }
        if obj["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
            && !rv.is_empty()
            && Some(rv) != old["metadata"]["resourceVersion"].as_str()
        {
            return Err(ApiError::conflict(&rt.plural, name));
        }
        if status_only {
            let status = obj["status"].take();
            obj = old.clone();
            obj["status"] = status;
        } else {
            if rt.status_subresource {
                obj["status"] = old["status"].clone();
            }
            for field in ["uid", "creationTimestamp", "namespace", "name"] {
                obj["metadata"][field] = old["metadata"][field].clone();
            }
            if rt.plural == "approvaltasks" {
                approval::admit_update(&old, &obj, user)?;
            }
            let generation = old["metadata"]["generation"].as_u64().unwrap_or(1);
            obj["metadata"]["generation"] = json!(if obj["spec"] != old["spec"] {
                generation + 1
            } else {
                generation
            });
            if rt.plural == "approvaltasks" {
                approval::reconcile(&mut obj, &now());
            }
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if obj == old {
            return Ok(old);
        }
        Ok(Self::commit(&mut st, &self.changes, key, "MODIFIED", obj))
    }

    /// Deletes an object, returning it as it was.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let ns = if rt.namespaced { namespace } else { "" };
        let key = (
            rt.group.clone(),
            rt.plural.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let mut st = self.lock();
        let old = st
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.plural, name))?;
        Ok(Self::commit(&mut st, &self.changes, key, "DELETED", old))
    }
}
