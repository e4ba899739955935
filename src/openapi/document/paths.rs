//! Paths of one group-version: the operations kube-apiserver documents for each resource
//! and subresource (list, watch, create, read, replace, patch, delete, deletecollection).

use super::operations::{
    body, content, param, queries, query, responses, Op, DELETE_COLLECTION_PARAMS, DELETE_PARAMS,
    JSON_YAML_PB, LIST_PARAMS, LIST_TYPES, PATCH_PARAMS, PATCH_TYPES, WATCH_PATH_PARAMS,
    WRITE_PARAMS,
};
use super::{
    capitalize, gvk, list_schema_name, subresource_schema, DELETE_OPTIONS, PATCH, STATUS,
    WATCH_EVENT,
};
use crate::api::resource::ResourceType;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Paths and operations of one group-version.
pub(super) struct PathBuilder<'a> {
    pub(super) prefix: String,
    pub(super) opgv: String,
    pub(super) tag: String,
    pub(super) paths: BTreeMap<String, Map<String, Value>>,
    pub(super) group: &'a str,
    pub(super) version: &'a str,
}

impl PathBuilder<'_> {
    fn add(&mut self, path: &str, params: Vec<Value>, method: &str, op: Op) {
        let item = self.paths.entry(path.to_string()).or_default();
        if !item.contains_key("parameters") {
            item.insert("parameters".into(), Value::Array(params));
        }
        item.insert(method.into(), op.into_value(&self.tag));
    }

    /// Adds the paths and operations of resource `r` (and its subresources).
    pub(super) fn resource(&mut self, r: &ResourceType) {
        let kind = r.kind.as_str();
        let schema = r.schema_name.as_str();
        let list_schema = list_schema_name(r);
        let can = |v: &str| r.verbs.iter().any(|x| x == v);
        let gvk = gvk(self.group, self.version, kind);
        let pretty = query("pretty");
        let name_param = param("name", "path", "string", &format!("name of the {kind}"));
        let ns_param = param(
            "namespace",
            "path",
            "string",
            "object name and auth scope, such as for teams and projects",
        );
        let (scope, ns_path, scoped_params) = if r.namespaced {
            ("Namespaced", "/namespaces/{namespace}", vec![ns_param])
        } else {
            ("", "", vec![])
        };
        let opgv = self.opgv.clone();
        let collection = format!("{}{ns_path}/{}", self.prefix, r.plural);
        let item = format!("{collection}/{{name}}");
        let with = |mut v: Vec<Value>, extra: &[Value]| {
            v.extend(extra.iter().cloned());
            v
        };
        let coll_params = with(scoped_params.clone(), std::slice::from_ref(&pretty));
        let item_params = with(
            with(vec![name_param.clone()], &scoped_params),
            std::slice::from_ref(&pretty),
        );

        if can("list") {
            let op = Op {
                action: "list",
                id: format!("list{opgv}{scope}{kind}"),
                description: format!("list or watch objects of kind {kind}"),
                gvk: gvk.clone(),
                params: queries(LIST_PARAMS),
                body: None,
                responses: responses(&[("200", &list_schema, LIST_TYPES)]),
            };
            self.add(&collection, coll_params.clone(), "get", op);
            if r.namespaced {
                let op = Op {
                    action: "list",
                    id: format!("list{opgv}{kind}ForAllNamespaces"),
                    description: format!("list or watch objects of kind {kind}"),
                    gvk: gvk.clone(),
                    params: vec![],
                    body: None,
                    responses: responses(&[("200", &list_schema, LIST_TYPES)]),
                };
                let path = format!("{}/{}", self.prefix, r.plural);
                self.add(&path, queries(WATCH_PATH_PARAMS), "get", op);
            }
        }
        if can("create") {
            let op = Op {
                action: "post",
                id: format!("create{opgv}{scope}{kind}"),
                description: format!("create a {kind}"),
                gvk: gvk.clone(),
                params: queries(WRITE_PARAMS),
                body: Some(body(schema)),
                responses: responses(&[
                    ("200", schema, JSON_YAML_PB),
                    ("201", schema, JSON_YAML_PB),
                    ("202", schema, JSON_YAML_PB),
                ]),
            };
            self.add(&collection, coll_params.clone(), "post", op);
        }
        if can("deletecollection") {
            let op = Op {
                action: "deletecollection",
                id: format!("delete{opgv}Collection{scope}{kind}"),
                description: format!("delete collection of {kind}"),
                gvk: gvk.clone(),
                params: queries(DELETE_COLLECTION_PARAMS),
                body: Some(json!({ "content": content(DELETE_OPTIONS, &["*/*"]) })),
                responses: responses(&[("200", STATUS, JSON_YAML_PB)]),
            };
            self.add(&collection, coll_params.clone(), "delete", op);
        }
        if can("get") {
            let op = Op {
                action: "get",
                id: format!("read{opgv}{scope}{kind}"),
                description: format!("read the specified {kind}"),
                gvk: gvk.clone(),
                params: vec![],
                body: None,
                responses: responses(&[("200", schema, JSON_YAML_PB)]),
            };
            self.add(&item, item_params.clone(), "get", op);
        }
        if can("update") {
            self.add(
                &item,
                item_params.clone(),
                "put",
                self.replace(
                    &gvk,
                    schema,
                    &format!("{scope}{kind}"),
                    &format!("the specified {kind}"),
                ),
            );
        }
        if can("patch") {
            self.add(
                &item,
                item_params.clone(),
                "patch",
                self.patch(
                    &gvk,
                    schema,
                    &format!("{scope}{kind}"),
                    &format!("the specified {kind}"),
                ),
            );
        }
        if can("delete") {
            let op = Op {
                action: "delete",
                id: format!("delete{opgv}{scope}{kind}"),
                description: format!("delete a {kind}"),
                gvk: gvk.clone(),
                params: queries(DELETE_PARAMS),
                body: Some(json!({ "content": content(DELETE_OPTIONS, &["*/*"]) })),
                responses: responses(&[
                    ("200", STATUS, JSON_YAML_PB),
                    ("202", STATUS, JSON_YAML_PB),
                ]),
            };
            self.add(&item, item_params.clone(), "delete", op);
        }
        if can("watch") {
            let watch_params = |base: &[Value]| {
                let mut v = base.to_vec();
                v.extend(queries(WATCH_PATH_PARAMS));
                v
            };
            let watch_coll = format!("{}/watch{ns_path}/{}", self.prefix, r.plural);
            let op = Op {
                action: "watchlist",
                id: format!("watch{opgv}{scope}{kind}List"),
                description: format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
                gvk: gvk.clone(),
                params: vec![],
                body: None,
                responses: responses(&[("200", WATCH_EVENT, LIST_TYPES)]),
            };
            self.add(&watch_coll, watch_params(&scoped_params), "get", op);
            let op = Op {
                action: "watch",
                id: format!("watch{opgv}{scope}{kind}"),
                description: format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
                gvk: gvk.clone(),
                params: vec![],
                body: None,
                responses: responses(&[("200", WATCH_EVENT, LIST_TYPES)]),
            };
            let base = with(vec![name_param.clone()], &scoped_params);
            self.add(
                &format!("{watch_coll}/{{name}}"),
                watch_params(&base),
                "get",
                op,
            );
            if r.namespaced {
                let op = Op {
                    action: "watchlist",
                    id: format!("watch{opgv}{kind}ListForAllNamespaces"),
                    description: format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
                    gvk: gvk.clone(),
                    params: vec![],
                    body: None,
                    responses: responses(&[("200", WATCH_EVENT, LIST_TYPES)]),
                };
                let path = format!("{}/watch/{}", self.prefix, r.plural);
                self.add(&path, watch_params(&[]), "get", op);
            }
        }
        for sub in &r.subresources {
            let Some(sub_schema) = subresource_schema(r, sub) else {
                continue;
            };
            let sub_gvk = self::gvk(&sub.group, &sub.version, &sub.kind);
            let suffix = capitalize(&sub.name);
            let path = format!("{item}/{}", sub.name);
            let what = format!("{} of the specified {kind}", sub.name);
            let has = |v: &str| sub.verbs.iter().any(|x| x == v);
            if has("get") {
                let op = Op {
                    action: "get",
                    id: format!("read{opgv}{scope}{kind}{suffix}"),
                    description: format!("read {what}"),
                    gvk: sub_gvk.clone(),
                    params: vec![],
                    body: None,
                    responses: responses(&[("200", sub_schema, JSON_YAML_PB)]),
                };
                self.add(&path, item_params.clone(), "get", op);
            }
            if has("update") {
                let op = self.replace(
                    &sub_gvk,
                    sub_schema,
                    &format!("{scope}{kind}{suffix}"),
                    &what,
                );
                self.add(&path, item_params.clone(), "put", op);
            }
            if has("patch") {
                let op = self.patch(
                    &sub_gvk,
                    sub_schema,
                    &format!("{scope}{kind}{suffix}"),
                    &what,
                );
                self.add(&path, item_params.clone(), "patch", op);
            }
        }
    }

    fn replace(&self, gvk: &Value, schema: &str, name: &str, what: &str) -> Op<'static> {
        Op {
            action: "put",
            id: format!("replace{}{name}", self.opgv),
            description: format!("replace {what}"),
            gvk: gvk.clone(),
            params: queries(WRITE_PARAMS),
            body: Some(body(schema)),
            responses: responses(&[("200", schema, JSON_YAML_PB), ("201", schema, JSON_YAML_PB)]),
        }
    }

    fn patch(&self, gvk: &Value, schema: &str, name: &str, what: &str) -> Op<'static> {
        Op {
            action: "patch",
            id: format!("patch{}{name}", self.opgv),
            description: format!("partially update {what}"),
            gvk: gvk.clone(),
            params: queries(PATCH_PARAMS),
            body: Some(json!({ "content": content(PATCH, PATCH_TYPES), "required": true })),
            responses: responses(&[("200", schema, JSON_YAML_PB), ("201", schema, JSON_YAML_PB)]),
        }
    }
}
