//! The owner → dependents graph (upstream's `graph_builder.go` without the informers): nodes by
//! uid, built from what the monitors observe, producing the work the collector must do.

use std::collections::{HashMap, HashSet};

use crate::api::store::delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};

/// Identity of an object: enough to GET, PATCH or DELETE it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (`None` for cluster-scoped objects or unknown scope).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// uid.
    pub uid: String,
}

/// One `metadata.ownerReferences` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    /// Owner's uid.
    pub uid: String,
    /// Owner's `apiVersion`.
    pub api_version: String,
    /// Owner's kind.
    pub kind: String,
    /// Owner's name.
    pub name: String,
    /// `blockOwnerDeletion`.
    pub block: bool,
}

/// What a monitor saw of an object.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The object's identity.
    pub identity: ObjectRef,
    /// Key of the resource it was seen through (see `Served::key`).
    pub resource: String,
    /// Its owner references.
    pub owners: Vec<OwnerRef>,
    /// Whether `deletionTimestamp` is set.
    pub being_deleted: bool,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
}

/// A node of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// The object's identity (for a virtual node: as its dependents name it).
    pub identity: ObjectRef,
    /// Resource key; empty for virtual nodes.
    pub resource: String,
    /// Owner references.
    pub owners: Vec<OwnerRef>,
    /// uids of the objects naming this one as owner.
    pub dependents: HashSet<String>,
    /// Being deleted with the `foregroundDeletion` finalizer.
    pub deleting_dependents: bool,
    /// `deletionTimestamp` is set.
    pub being_deleted: bool,
    /// Only known from its dependents' references (never observed, or already deleted).
    pub is_virtual: bool,
}

/// Work for the collector's workers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Check the object with this uid: collect it if its owners are gone, or finish a
    /// foreground deletion.
    Delete(String),
    /// Orphan the dependents of the object with this uid, then drop its `orphan` finalizer.
    Orphan(String),
}

/// The owner → dependents graph.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    /// A node by uid.
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// Number of nodes (virtual ones included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// uids of the observed objects naming `uid` as owner.
    pub fn dependents(&self, uid: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .nodes
            .get(uid)
            .map(|n| n.dependents.iter().cloned().collect())
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Dependents holding `blockOwnerDeletion: true` on `uid`, with whether each is being deleted.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<(String, bool)> {
        self.dependents(uid)
            .into_iter()
            .filter_map(|d| {
                let n = self.nodes.get(&d)?;
                let blocks = !n.is_virtual && n.owners.iter().any(|o| o.uid == uid && o.block);
                blocks.then_some((d, n.being_deleted))
            })
            .collect()
    }

    /// Whether the object with `uid` is observed and being deleted in the foreground.
    pub fn is_deleting_dependents(&self, uid: &str) -> bool {
        self.nodes
            .get(uid)
            .is_some_and(|n| !n.is_virtual && n.deleting_dependents)
    }

    /// Records an added or changed object; returns the work it causes.
    pub fn upsert(&mut self, obs: Observed) -> Vec<Work> {
        let mut work = Vec::new();
        let uid = obs.identity.uid.clone();
        let deleting_dependents =
            obs.being_deleted && obs.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND);
        let orphaning = obs.being_deleted && obs.finalizers.iter().any(|f| f == FINALIZER_ORPHAN);
        let (old_owners, was_deleting, dependents) = match self.nodes.remove(&uid) {
            Some(n) if n.is_virtual => (Vec::new(), false, n.dependents),
            Some(n) => (n.owners, n.deleting_dependents, n.dependents),
            None => (Vec::new(), false, HashSet::new()),
        };
        for old in &old_owners {
            if !obs.owners.iter().any(|o| o.uid == old.uid) {
                self.unlink(&old.uid, &uid, &mut work);
            }
        }
        for owner in &obs.owners {
            let node = self.nodes.entry(owner.uid.clone()).or_insert_with(|| Node {
                identity: ObjectRef {
                    api_version: owner.api_version.clone(),
                    kind: owner.kind.clone(),
                    namespace: obs.identity.namespace.clone(),
                    name: owner.name.clone(),
                    uid: owner.uid.clone(),
                },
                resource: String::new(),
                owners: Vec::new(),
                dependents: HashSet::new(),
                deleting_dependents: false,
                being_deleted: false,
                is_virtual: true,
            });
            node.dependents.insert(uid.clone());
            if node.is_virtual {
                // The owner was never seen: verify it exists.
                work.push(Work::Delete(uid.clone()));
            }
            if node.deleting_dependents {
                work.push(Work::Delete(uid.clone()));
                work.push(Work::Delete(owner.uid.clone()));
            }
        }
        if deleting_dependents && !was_deleting {
            let mut deps: Vec<&String> = dependents.iter().collect();
            deps.sort();
            work.extend(deps.into_iter().map(|d| Work::Delete(d.clone())));
        }
        if deleting_dependents {
            work.push(Work::Delete(uid.clone()));
        }
        if orphaning {
            work.push(Work::Orphan(uid.clone()));
        }
        self.nodes.insert(
            uid,
            Node {
                identity: obs.identity,
                resource: obs.resource,
                owners: obs.owners,
                dependents,
                deleting_dependents,
                being_deleted: obs.being_deleted,
                is_virtual: false,
            },
        );
        work
    }

    /// Records the deletion of an object; returns the work it causes.
    pub fn remove(&mut self, uid: &str) -> Vec<Work> {
        let mut work = Vec::new();
        let Some(mut node) = self.nodes.remove(uid) else {
            return work;
        };
        if node.is_virtual {
            self.nodes.insert(uid.to_string(), node);
            return work;
        }
        for owner in &node.owners {
            self.unlink(&owner.uid, uid, &mut work);
        }
        let mut deps: Vec<&String> = node.dependents.iter().collect();
        deps.sort();
        work.extend(deps.into_iter().map(|d| Work::Delete(d.clone())));
        if !node.dependents.is_empty() {
            // Keep a placeholder so that the dependents stay linked until they are handled.
            node.is_virtual = true;
            node.owners.clear();
            node.resource.clear();
            node.deleting_dependents = false;
            node.being_deleted = false;
            self.nodes.insert(uid.to_string(), node);
        }
        work
    }

    /// After a monitor re-listed `resource`: objects of it not seen again were deleted meanwhile.
    pub fn relisted(&mut self, resource: &str, seen: &HashSet<String>) -> Vec<Work> {
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(uid, n)| !n.is_virtual && n.resource == resource && !seen.contains(*uid))
            .map(|(uid, _)| uid.clone())
            .collect();
        gone.iter().flat_map(|uid| self.remove(uid)).collect()
    }

    fn unlink(&mut self, owner: &str, dependent: &str, work: &mut Vec<Work>) {
        let Some(node) = self.nodes.get_mut(owner) else {
            return;
        };
        node.dependents.remove(dependent);
        if node.deleting_dependents && !node.is_virtual {
            work.push(Work::Delete(owner.to_string()));
        }
        if node.is_virtual && node.dependents.is_empty() {
            self.nodes.remove(owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(uid: &str, owners: &[(&str, bool)]) -> Observed {
        Observed {
            identity: ObjectRef {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("default".into()),
                name: format!("cm-{uid}"),
                uid: uid.into(),
            },
            resource: "/v1/configmaps".into(),
            owners: owners
                .iter()
                .map(|(u, block)| OwnerRef {
                    uid: (*u).into(),
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: format!("cm-{u}"),
                    block: *block,
                })
                .collect(),
            being_deleted: false,
            finalizers: vec![],
        }
    }

    #[test]
    fn unknown_owner_makes_virtual_node_and_checks_dependent() {
        let mut g = Graph::default();
        assert_eq!(
            g.upsert(obs("b", &[("a", false)])),
            vec![Work::Delete("b".into())]
        );
        assert!(g.node("a").is_some_and(|n| n.is_virtual));
        assert!(g.upsert(obs("a", &[])).is_empty());
        assert!(g.node("a").is_some_and(|n| !n.is_virtual));
        assert_eq!(g.dependents("a"), vec!["b".to_string()]);
    }

    #[test]
    fn owner_deletion_queues_dependents() {
        let mut g = Graph::default();
        g.upsert(obs("a", &[]));
        g.upsert(obs("b", &[("a", true)]));
        assert_eq!(g.remove("a"), vec![Work::Delete("b".into())]);
        assert!(g.node("a").is_some_and(|n| n.is_virtual));
        g.remove("b");
        assert!(g.is_empty());
    }

    #[test]
    fn foreground_queues_dependents_then_owner() {
        let mut g = Graph::default();
        g.upsert(obs("a", &[]));
        g.upsert(obs("b", &[("a", true)]));
        let mut a = obs("a", &[]);
        a.being_deleted = true;
        a.finalizers = vec![FINALIZER_FOREGROUND.into()];
        assert_eq!(
            g.upsert(a),
            vec![Work::Delete("b".into()), Work::Delete("a".into())]
        );
        assert_eq!(g.blocking_dependents("a"), vec![("b".to_string(), false)]);
        assert_eq!(g.remove("b"), vec![Work::Delete("a".into())]);
        assert!(g.blocking_dependents("a").is_empty());
    }

    #[test]
    fn relist_removes_unseen() {
        let mut g = Graph::default();
        g.upsert(obs("a", &[]));
        g.upsert(obs("b", &[("a", false)]));
        let seen: HashSet<String> = ["b".to_string()].into();
        assert_eq!(
            g.relisted("/v1/configmaps", &seen),
            vec![Work::Delete("b".into())]
        );
    }
}
