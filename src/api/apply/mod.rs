//! Server-side apply and `metadata.managedFields`, after upstream's `fieldmanager` package and
//! sigs.k8s.io/structured-merge-diff: every write records which manager set which fields; an
//! apply merges a configuration into the live object, removes fields its manager stopped
//! applying and refuses (409) to change fields other managers own unless forced.

pub mod fieldpath;
pub mod managed;
mod request;
pub mod typed;

pub use request::{apply_request, manager_required, with_request_manager, APPLY_PATCH_YAML};

use serde_json::Value;

use self::fieldpath::{path_string, Path, PathElement, Set};
use self::managed::{Entry, Operation};
use self::typed::Ty;
use super::errors::{ApiError, ApiResult, Cause};
use super::object::{now_rfc3339, ObjectMeta};
use super::registry::ResourceEntry;

/// Which fields a write may own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    /// Everything.
    All,
    /// The main resource of a kind with a status subresource: everything but `status`.
    NoStatus,
    /// The status subresource: only `status`.
    Status,
    /// The scale subresource: only `spec.replicas`.
    Scale,
}

/// The type and tracking rules of writes to one resource (and subresource).
#[derive(Clone, Debug)]
pub struct Scope {
    ty: Ty,
    api_version: String,
    subresource: String,
    filter: Filter,
}

fn field(name: &str) -> PathElement {
    PathElement::Field(name.to_string())
}

/// Fields no manager owns (upstream's stripMetaManager).
fn strip_set() -> Set {
    let mut s = Set::new();
    s.insert(&[field("apiVersion")]);
    s.insert(&[field("kind")]);
    s.insert(&[field("metadata")]);
    for f in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[field("metadata"), field(f)]);
    }
    s
}

impl Scope {
    /// The scope of writes to `res` (and `subresource`).
    pub fn new(res: &ResourceEntry, subresource: Option<&str>) -> Scope {
        let filter = match subresource {
            None if res.rt.has_subresource("status") => Filter::NoStatus,
            Some("status") => Filter::Status,
            Some("scale") => Filter::Scale,
            _ => Filter::All,
        };
        Scope {
            ty: Ty::for_kind(&res.rt.group, &res.rt.version, &res.rt.kind),
            api_version: res.rt.api_version(),
            subresource: subresource.unwrap_or("").to_string(),
            filter,
        }
    }

    /// The part of a set this write may own.
    fn filter(&self, s: &Set) -> Set {
        let kept = match self.filter {
            Filter::All => s.clone(),
            Filter::NoStatus => {
                let mut status = Set::new();
                status.insert(&[field("status")]);
                s.recursive_difference(&status)
            }
            Filter::Status => s.with_prefix(&[field("status")]),
            Filter::Scale => s.with_prefix(&[field("spec"), field("replicas")]),
        };
        kept.difference(&strip_set())
    }

    fn entry(&self, manager: &str, operation: Operation) -> Entry {
        Entry {
            manager: manager.to_string(),
            operation,
            api_version: self.api_version.clone(),
            time: None,
            subresource: self.subresource.clone(),
            set: Set::new(),
        }
    }
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    v.remove_meta("managedFields");
    v
}

fn decode_or_empty(v: Option<&Value>) -> Vec<Entry> {
    v.and_then(|v| managed::decode(v).ok()).unwrap_or_default()
}

/// Records an `Update` by `manager` in the managedFields of `new` (create when `live` is `None`):
/// the manager takes the fields it added or changed, other managers lose them, removed fields
/// leave every manager. managedFields sent in `new` replace the live ones (`[]` clears them).
pub fn record_update(scope: &Scope, live: Option<&Value>, new: &mut Value, manager: &str) {
    let sent = new.meta().and_then(|m| m.get("managedFields")).cloned();
    let mut entries = if !scope.subresource.is_empty() {
        decode_or_empty(live)
    } else if managed::is_reset(sent.as_ref()) {
        Vec::new()
    } else {
        match managed::decode(new) {
            Ok(e) if !e.is_empty() => e,
            _ => decode_or_empty(live),
        }
    };
    new.remove_meta("managedFields");
    let live = live.map(without_managed_fields);
    let mut cmp = typed::compare(live.as_ref(), Some(new), scope.ty);
    cmp.filter(|s| scope.filter(s));
    let taken = cmp.added.union(&cmp.modified);
    for e in &mut entries {
        e.set = e.set.difference(&taken).difference(&cmp.removed);
    }
    if !taken.is_empty() {
        let me = scope.entry(manager, Operation::Update);
        let now = Some(now_rfc3339());
        match entries.iter_mut().find(|e| e.same_manager(&me)) {
            Some(e) => {
                e.set = e.set.union(&taken);
                e.time = now;
            }
            None => entries.push(Entry {
                set: taken,
                time: now,
                ..me
            }),
        }
    }
    managed::cap_updates(&mut entries);
    managed::store(new, &entries);
}

/// Applies `config` for `manager` to `live` (`None`: the object is being created) and returns
/// the new object with its managedFields; 409 on conflicts unless `force`.
pub fn apply(
    scope: &Scope,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    let mut entries = decode_or_empty(live);
    let live = live.map(without_managed_fields);
    if let Some(l) = &live {
        if entries.is_empty() {
            // Objects written before fields were tracked: their fields belong to one manager.
            let mut e = scope.entry("before-first-apply", Operation::Update);
            e.set = scope.filter(&typed::field_set(l, scope.ty));
            entries.push(e);
        }
    }
    let config = without_managed_fields(config);
    let applied = scope.filter(&typed::field_set(&config, scope.ty));
    let mut merged = typed::merge(live.as_ref(), Some(&config), scope.ty).unwrap_or(config);
    let me = scope.entry(manager, Operation::Apply);
    let idx = match entries.iter().position(|e| e.same_manager(&me)) {
        Some(i) => i,
        None => {
            entries.push(me);
            entries.len() - 1
        }
    };
    let last = std::mem::replace(&mut entries[idx].set, applied);
    entries[idx].api_version = scope.api_version.clone();
    if !last.is_empty() {
        let owned = entries.iter().fold(Set::new(), |acc, e| acc.union(&e.set));
        typed::prune(&mut merged, scope.ty, &last, &owned);
    }
    let mut cmp = typed::compare(live.as_ref(), Some(&merged), scope.ty);
    cmp.filter(|s| scope.filter(s));
    let changed = cmp.added.union(&cmp.modified);
    let mut conflicts: Vec<(usize, Set)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if i != idx {
            let c = e.set.intersection(&changed);
            if !c.is_empty() {
                conflicts.push((i, c));
            }
        }
    }
    if !force && !conflicts.is_empty() {
        let list = conflicts
            .iter()
            .flat_map(|(i, c)| {
                let who = entries[*i].describe();
                c.paths().into_iter().map(move |p| (who.clone(), p))
            })
            .collect();
        return Err(conflict_error(list));
    }
    for (i, c) in conflicts {
        entries[i].set = entries[i].set.difference(&c);
    }
    for (i, e) in entries.iter_mut().enumerate() {
        if i != idx {
            e.set = e.set.difference(&cmp.removed);
        }
    }
    if live.as_ref() != Some(&merged) || entries[idx].time.is_none() {
        entries[idx].time = Some(now_rfc3339());
    }
    managed::store(&mut merged, &entries);
    Ok(merged)
}

/// The 409 of an apply that would change fields owned by other managers (upstream's
/// `NewConflictError`).
fn conflict_error(conflicts: Vec<(String, Path)>) -> ApiError {
    let message = match conflicts.as_slice() {
        [(who, path)] => format!(
            "Apply failed with 1 conflict: conflict with {who}: {}",
            path_string(path)
        ),
        _ => {
            let mut managers: Vec<&String> = conflicts.iter().map(|(w, _)| w).collect();
            managers.sort();
            managers.dedup();
            let mut lines = Vec::new();
            for m in managers {
                lines.push(format!("conflicts with {m}:"));
                for (_, p) in conflicts.iter().filter(|(w, _)| w == m) {
                    lines.push(format!("- {}", path_string(p)));
                }
            }
            format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                lines.join("\n")
            )
        }
    };
    let mut e = ApiError::new(409, "Conflict", message);
    e.details.causes = conflicts
        .into_iter()
        .map(|(who, p)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {who}"),
            field: path_string(&p),
        })
        .collect();
    e
}

#[cfg(test)]
mod tests;
