//! Core (`""` group) kinds: ConfigMap, Secret, Namespace, Pod, PodTemplate,
//! Service, Endpoints, Node, PersistentVolume(Claim), LimitRange,
//! ResourceQuota (upstream `pkg/apis/core/validation/validation.go`).

use super::meta::{labels_and_annotations, object_meta, validate_labels, IMMUTABLE};
use super::names::{
    inclusive_range_error, is_config_map_key, is_dns1123_label, is_dns1123_subdomain,
    is_http_header_name, is_ip, is_qualified_name, is_relaxed_env_var_name, is_valid_port_name,
    is_valid_port_num, NameKind, IP_ERR,
};
use super::quantity::Quantity;
use super::util::{child, index, key, nonnegative, Ctx};
use super::FieldError;
use base64::Engine;
use serde_json::Value;

/// Upstream `core.MaxSecretSize` (also used for ConfigMaps).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const NEGATIVE: &str = "must be greater than or equal to 0";
const NOT_POSITIVE: &str = "must be greater than zero";

fn empty() -> Value {
    Value::Object(Default::default())
}

// ---------- ConfigMap / Secret ----------

/// `ValidateConfigMap` / `ValidateConfigMapUpdate`.
pub fn config_map(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let mut total = 0usize;
    let binary = obj.get("binaryData").and_then(Value::as_object);
    if let Some(data) = v.string_map(obj, "data", "") {
        for (k, val) in data {
            let p = key("data", k);
            v.invalid_each(&p, k, is_config_map_key(k));
            if binary.is_some_and(|b| b.contains_key(k)) {
                v.push(FieldError::invalid(
                    &p,
                    k,
                    "duplicate of key present in binaryData",
                ));
            }
            total += val.len();
        }
    }
    if let Some(bin) = v.string_map(obj, "binaryData", "") {
        for (k, val) in bin {
            let p = key("binaryData", k);
            v.invalid_each(&p, k, is_config_map_key(k));
            match base64::engine::general_purpose::STANDARD.decode(val) {
                Ok(bytes) => total += bytes.len(),
                Err(e) => v.push(FieldError::invalid(&p, "<binary data>", &e.to_string())),
            }
        }
    }
    if total > MAX_SECRET_SIZE {
        v.push(FieldError::too_long("", MAX_SECRET_SIZE));
    }
    if let Some(old) = old {
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if obj.get("immutable").and_then(Value::as_bool) != Some(true) {
                v.push(FieldError::forbidden("immutable", IMMUTABLE_WHEN_SET));
            }
            for f in ["data", "binaryData"] {
                if !map_eq(obj.get(f), old.get(f)) {
                    v.push(FieldError::forbidden(f, IMMUTABLE_WHEN_SET));
                }
            }
        }
    }
}

fn map_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |x: Option<&Value>| match x {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) if m.is_empty() => None,
        Some(other) => Some(other.clone()),
    };
    norm(a) == norm(b)
}

/// Secret data after merging `stringData` into `data` (as the API server's
/// conversion does), decoded; invalid base64 is reported.
fn secret_data(v: &mut Ctx, obj: &Value) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(data) = v.string_map(obj, "data", "") {
        for (k, val) in data {
            match base64::engine::general_purpose::STANDARD.decode(val) {
                Ok(bytes) => out.push((k.to_string(), bytes)),
                Err(e) => {
                    v.push(FieldError::invalid(
                        &key("data", k),
                        "<secret contents redacted>",
                        &e.to_string(),
                    ));
                    out.push((k.to_string(), Vec::new()));
                }
            }
        }
    }
    if let Some(sd) = v.string_map(obj, "stringData", "") {
        for (k, val) in sd {
            out.retain(|(ek, _)| ek != k);
            out.push((k.to_string(), val.as_bytes().to_vec()));
        }
    }
    out
}

/// `ValidateSecret` / `ValidateSecretUpdate`.
pub fn secret(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let data = secret_data(v, obj);
    let mut total = 0;
    for (k, val) in &data {
        v.invalid_each(&key("data", k), k, is_config_map_key(k));
        total += val.len();
    }
    if total > MAX_SECRET_SIZE {
        v.push(FieldError::too_long("data", MAX_SECRET_SIZE));
    }
    let get = |k: &str| data.iter().find(|(dk, _)| dk == k).map(|(_, d)| d);
    let ty = v.string(obj, "type", "");
    match ty {
        "kubernetes.io/service-account-token" => {
            let name = obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                v.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let k = if ty == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match get(k) {
                None => v.push(FieldError::required(&key("data", k), "")),
                Some(bytes) => {
                    if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(bytes)
                    {
                        v.push(FieldError::invalid(
                            &key("data", k),
                            "<secret contents redacted>",
                            &e.to_string(),
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if get("username").is_none() && get("password").is_none() => {
            v.push(FieldError::required("data[username]", ""));
            v.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if get("ssh-privatekey").is_none_or(|d| d.is_empty()) => {
            v.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            if get("tls.crt").is_none() {
                v.push(FieldError::required("data[tls.crt]", ""));
            }
            if get("tls.key").is_none() {
                v.push(FieldError::required("data[tls.key]", ""));
            }
        }
        _ => {}
    }
    if let Some(old) = old {
        let old_ty = old.get("type").and_then(Value::as_str).unwrap_or("");
        if old_ty != ty {
            v.push(FieldError::invalid("type", ty, IMMUTABLE));
        }
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            if obj.get("immutable").and_then(Value::as_bool) != Some(true) {
                v.push(FieldError::forbidden("immutable", IMMUTABLE_WHEN_SET));
            }
            let mut old_ctx = Ctx::default();
            let mut od = secret_data(&mut old_ctx, old);
            let mut nd = data.clone();
            od.sort();
            nd.sort();
            if od != nd {
                v.push(FieldError::forbidden("data", IMMUTABLE_WHEN_SET));
            }
        }
    }
}

// ---------- Namespace / Node ----------

/// `ValidateNamespace`.
pub fn namespace(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Label);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    for (i, f) in v.arr(&spec, "finalizers", "spec").iter().enumerate() {
        let p = "spec.finalizers";
        let Some(s) = f.as_str() else {
            v.push(FieldError::type_invalid(&index(p, i), f, "string"));
            continue;
        };
        let msgs = is_qualified_name(s);
        if !msgs.is_empty() {
            v.invalid_each(p, s, msgs);
        } else if !s.contains('/') && s != "kubernetes" {
            v.push(FieldError::invalid(
                p,
                s,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

/// `ValidateNode` (the main spec checks).
pub fn node(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let mut cidrs: Vec<(String, String)> = Vec::new();
    if let Some(c) = v.str(&spec, "podCIDR", "spec") {
        if !c.is_empty() {
            cidrs.push(("spec.podCIDR".to_string(), c.to_string()));
        }
    }
    for (i, c) in v.arr(&spec, "podCIDRs", "spec").iter().enumerate() {
        cidrs.push((
            index("spec.podCIDRs", i),
            c.as_str().unwrap_or("").to_string(),
        ));
    }
    for (p, c) in cidrs {
        if !is_cidr(&c) {
            v.push(FieldError::invalid(
                &p,
                c.as_str(),
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    let tp = "spec.taints";
    for (i, t) in v.arr(&spec, "taints", "spec").iter().enumerate() {
        let p = index(tp, i);
        let k = v.string(t, "key", &p);
        v.invalid_each(&child(&p, "key"), k, is_qualified_name(k));
        let val = v.string(t, "value", &p);
        v.invalid_each(
            &child(&p, "value"),
            val,
            super::names::is_valid_label_value(val),
        );
        let effect = v.string(t, "effect", &p);
        taint_effect(v, effect, false, &child(&p, "effect"));
    }
}

fn taint_effect(v: &mut Ctx, effect: &str, allow_empty: bool, path: &str) {
    if effect.is_empty() {
        if !allow_empty {
            v.push(FieldError::required(path, ""));
        }
        return;
    }
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        v.push(FieldError::not_supported(
            path,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        ));
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    bits.parse::<u32>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
}

// ---------- Quantities / resources ----------

/// Parses a quantity field value (string or number), reporting syntax errors.
pub fn quantity(v: &mut Ctx, val: &Value, path: &str) -> Option<Quantity> {
    let s = match val {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            v.push(FieldError::type_invalid(path, other, "quantity"));
            return None;
        }
    };
    match Quantity::parse(&s) {
        Ok(q) => Some(q),
        Err(e) => {
            v.push(FieldError::invalid(path, s.as_str(), &e.to_string()));
            None
        }
    }
}

/// A resource list (`map[ResourceName]Quantity`), parsed; entries that fail
/// to parse are reported and omitted.
pub fn resource_list(v: &mut Ctx, obj: &Value, name: &str, path: &str) -> Vec<(String, Quantity)> {
    let p = child(path, name);
    let mut out = Vec::new();
    match obj.get(name) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                if let Some(q) = quantity(v, val, &key(&p, k)) {
                    out.push((k.clone(), q));
                }
            }
        }
        Some(other) => v.push(FieldError::type_invalid(&p, other, "object")),
    }
    out
}

/// `ValidateNonnegativeQuantity`.
pub fn nonnegative_quantity(v: &mut Ctx, q: &Quantity, path: &str) {
    if q.is_negative() {
        v.push(FieldError::invalid(path, q.to_string(), NEGATIVE));
    }
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn overcommit_allowed(name: &str) -> bool {
    (!name.contains('/') || name.contains("kubernetes.io/")) && !name.starts_with("hugepages-")
}

fn resource_name(v: &mut Ctx, name: &str, path: &str) {
    v.invalid_each(path, name, is_qualified_name(name));
}

fn container_resources(v: &mut Ctx, ctr: &Value, path: &str) {
    let rp = child(path, "resources");
    let Some(res) = v.obj(ctr, "resources", path) else {
        return;
    };
    let lim_path = child(&rp, "limits");
    let req_path = child(&rp, "requests");
    let limits = resource_list(v, res, "limits", &rp);
    let requests = resource_list(v, res, "requests", &rp);
    let check_name = |v: &mut Ctx, name: &str, p: &str| {
        resource_name(v, name, p);
        if !name.contains('/') {
            if !is_standard_container_resource(name) {
                v.push(FieldError::invalid(
                    p,
                    name,
                    "must be a standard resource for containers",
                ));
            }
        } else if !name.contains("kubernetes.io/") && name.starts_with("requests.") {
            v.push(FieldError::invalid(
                p,
                name,
                "doesn't follow extended resource name standard",
            ));
        }
    };
    for (name, q) in &limits {
        let p = key(&lim_path, name);
        check_name(v, name, &p);
        nonnegative_quantity(v, q, &p);
    }
    for (name, q) in &requests {
        let p = key(&req_path, name);
        check_name(v, name, &p);
        nonnegative_quantity(v, q, &p);
        if let Some((_, lim)) = limits.iter().find(|(n, _)| n == name) {
            if q != lim && !overcommit_allowed(name) {
                v.push(FieldError::invalid(
                    &req_path,
                    q.to_string(),
                    &format!("must be equal to {name} limit of {lim}"),
                ));
            } else if q > lim {
                v.push(FieldError::invalid(
                    &req_path,
                    q.to_string(),
                    &format!("must be less than or equal to {name} limit of {lim}"),
                ));
            }
        } else if !overcommit_allowed(name) {
            v.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
    }
}

// ---------- Pod ----------

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "configMap",
    "scaleIO",
    "projected",
    "csi",
    "ephemeral",
    "image",
];

fn one_of(v: &mut Ctx, obj: &Value, sources: &[&str], path: &str, what: &str, required: &str) {
    let mut n = 0;
    for s in sources {
        if obj.get(*s).is_some_and(|x| !x.is_null()) {
            if n > 0 {
                v.push(FieldError::forbidden(
                    &child(path, s),
                    &format!("may not specify more than 1 {what}"),
                ));
            }
            n += 1;
        }
    }
    if n == 0 {
        v.push(FieldError::required(path, required));
    }
}

fn volume_source_details(v: &mut Ctx, vol: &Value, path: &str) {
    if let Some(cm) = vol.get("configMap").filter(|x| x.is_object()) {
        let p = child(path, "configMap");
        let name = v.string(cm, "name", &p);
        if name.is_empty() {
            v.push(FieldError::required(&child(&p, "name"), ""));
        }
    }
    if let Some(s) = vol.get("secret").filter(|x| x.is_object()) {
        let p = child(path, "secret");
        let name = v.string(s, "secretName", &p);
        if name.is_empty() {
            v.push(FieldError::required(&child(&p, "secretName"), ""));
        }
    }
    if let Some(pvc) = vol.get("persistentVolumeClaim").filter(|x| x.is_object()) {
        let p = child(path, "persistentVolumeClaim");
        let name = v.string(pvc, "claimName", &p);
        if name.is_empty() {
            v.push(FieldError::required(&child(&p, "claimName"), ""));
        }
    }
    if let Some(hp) = vol.get("hostPath").filter(|x| x.is_object()) {
        let p = child(path, "hostPath");
        let hpath = v.string(hp, "path", &p);
        if hpath.is_empty() {
            v.push(FieldError::required(&child(&p, "path"), ""));
        }
        if let Some(t) = v.str(hp, "type", &p) {
            const TYPES: &[&str] = &[
                "",
                "DirectoryOrCreate",
                "Directory",
                "FileOrCreate",
                "File",
                "Socket",
                "CharDevice",
                "BlockDevice",
            ];
            if !TYPES.contains(&t) {
                v.push(FieldError::not_supported(&child(&p, "type"), t, TYPES));
            }
        }
    }
    if let Some(ed) = vol.get("emptyDir").filter(|x| x.is_object()) {
        let p = child(path, "emptyDir");
        if let Some(sl) = ed.get("sizeLimit").filter(|x| !x.is_null()) {
            if let Some(q) = quantity(v, sl, &child(&p, "sizeLimit")) {
                if q.is_negative() {
                    v.push(FieldError::forbidden(
                        &child(&p, "sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
        }
    }
}

/// `ValidateVolumes`; returns the volume names.
fn volumes(v: &mut Ctx, spec: &Value, path: &str) -> Vec<String> {
    let vp = child(path, "volumes");
    let mut names: Vec<String> = Vec::new();
    for (i, vol) in v.arr(spec, "volumes", path).iter().enumerate() {
        let p = index(&vp, i);
        if !vol.is_object() {
            v.push(FieldError::type_invalid(&p, vol, "object"));
            continue;
        }
        one_of(
            v,
            vol,
            VOLUME_SOURCES,
            &p,
            "volume type",
            "must specify a volume type",
        );
        volume_source_details(v, vol, &p);
        let name = v.string(vol, "name", &p);
        let np = child(&p, "name");
        if name.is_empty() {
            v.push(FieldError::required(&np, ""));
        } else {
            v.invalid_each(&np, name, is_dns1123_label(name));
        }
        if names.iter().any(|n| n == name) {
            v.push(FieldError::duplicate(&np, name));
        } else {
            names.push(name.to_string());
        }
    }
    names
}

fn port_num_or_name(v: &mut Ctx, val: &Value, path: &str) {
    match val {
        Value::Number(n) => {
            let p = n.as_i64().unwrap_or(0);
            for m in is_valid_port_num(p) {
                v.push(FieldError::invalid(path, p, &m));
            }
        }
        Value::String(s) => v.invalid_each(path, s, is_valid_port_name(s)),
        Value::Null => {}
        other => v.push(FieldError::type_invalid(path, other, "integer or string")),
    }
}

fn protocol(v: &mut Ctx, obj: &Value, path: &str) {
    if let Some(p) = v.str(obj, "protocol", path) {
        let pp = child(path, "protocol");
        if p.is_empty() {
            v.push(FieldError::required(&pp, ""));
        } else if !PROTOCOLS.contains(&p) {
            v.push(FieldError::not_supported(&pp, p, PROTOCOLS));
        }
    }
}

fn container_ports(v: &mut Ctx, ctr: &Value, path: &str) {
    let pp = child(path, "ports");
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in v.arr(ctr, "ports", path).iter().enumerate() {
        let p = index(&pp, i);
        let name = v.string(port, "name", &p);
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                v.invalid_each(&child(&p, "name"), name, msgs);
            } else if names.contains(&name) {
                v.push(FieldError::duplicate(&child(&p, "name"), name));
            } else {
                names.push(name);
            }
        }
        match v.int(port, "containerPort", &p) {
            None | Some(0) => v.push(FieldError::required(&child(&p, "containerPort"), "")),
            Some(cp) => {
                for m in is_valid_port_num(cp) {
                    v.push(FieldError::invalid(&child(&p, "containerPort"), cp, &m));
                }
            }
        }
        if let Some(hp) = v.int(port, "hostPort", &p) {
            if hp != 0 {
                for m in is_valid_port_num(hp) {
                    v.push(FieldError::invalid(&child(&p, "hostPort"), hp, &m));
                }
            }
        }
        protocol(v, port, &p);
    }
}

fn env(v: &mut Ctx, ctr: &Value, path: &str) {
    let ep = child(path, "env");
    for (i, ev) in v.arr(ctr, "env", path).iter().enumerate() {
        let p = index(&ep, i);
        let name = v.string(ev, "name", &p);
        if name.is_empty() {
            v.push(FieldError::required(&child(&p, "name"), ""));
        } else {
            v.invalid_each(&child(&p, "name"), name, is_relaxed_env_var_name(name));
        }
        if let Some(vf) = v.obj(ev, "valueFrom", &p) {
            let vfp = child(&p, "valueFrom");
            let n = [
                "fieldRef",
                "resourceFieldRef",
                "configMapKeyRef",
                "secretKeyRef",
            ]
            .iter()
            .filter(|k| vf.get(**k).is_some_and(|x| !x.is_null()))
            .count();
            if n == 0 {
                v.push(FieldError::invalid(
                    &vfp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                ));
            } else if n > 1 {
                v.push(FieldError::invalid(
                    &vfp,
                    "",
                    "may not have more than one field specified at a time",
                ));
            }
            if !v.string(ev, "value", &p).is_empty() && n != 0 {
                v.push(FieldError::invalid(
                    &vfp,
                    "",
                    "may not be specified when `value` is not empty",
                ));
            }
            for refk in ["configMapKeyRef", "secretKeyRef"] {
                if let Some(r) = vf.get(refk).filter(|x| x.is_object()) {
                    let rp = child(&vfp, refk);
                    let k = v.string(r, "key", &rp);
                    if k.is_empty() {
                        v.push(FieldError::required(&child(&rp, "key"), ""));
                    } else {
                        v.invalid_each(&child(&rp, "key"), k, is_config_map_key(k));
                    }
                    if v.string(r, "name", &rp).is_empty() {
                        v.push(FieldError::required(&child(&rp, "name"), ""));
                    }
                }
            }
        }
    }
    let efp = child(path, "envFrom");
    for (i, ef) in v.arr(ctr, "envFrom", path).iter().enumerate() {
        let p = index(&efp, i);
        if let Some(prefix) = v.str(ef, "prefix", &p) {
            if !prefix.is_empty() {
                v.invalid_each(
                    &child(&p, "prefix"),
                    prefix,
                    is_relaxed_env_var_name(prefix),
                );
            }
        }
        let n = ["configMapRef", "secretRef"]
            .iter()
            .filter(|k| ef.get(**k).is_some_and(|x| !x.is_null()))
            .count();
        if n == 0 {
            v.push(FieldError::invalid(
                &p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            v.push(FieldError::invalid(
                &p,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn volume_mounts(v: &mut Ctx, ctr: &Value, vols: &[String], path: &str) {
    let mp = child(path, "volumeMounts");
    let mut mount_points: Vec<&str> = Vec::new();
    for (i, m) in v.arr(ctr, "volumeMounts", path).iter().enumerate() {
        let p = index(&mp, i);
        let name = v.string(m, "name", &p);
        if name.is_empty() {
            v.push(FieldError::required(&child(&p, "name"), ""));
        }
        if !vols.iter().any(|n| n == name) {
            v.push(FieldError::not_found(&child(&p, "name"), name));
        }
        let mount_path = v.string(m, "mountPath", &p);
        if mount_path.is_empty() {
            v.push(FieldError::required(&child(&p, "mountPath"), ""));
        }
        if mount_points.contains(&mount_path) {
            v.push(FieldError::invalid(
                &child(&p, "mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        mount_points.push(mount_path);
        let sub = v.string(m, "subPath", &p);
        if !sub.is_empty() {
            local_descending_path(v, sub, &child(&p, "subPath"));
        }
    }
}

fn local_descending_path(v: &mut Ctx, target: &str, path: &str) {
    if target.starts_with('/') {
        v.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    if target.split(['/', '\\']).any(|s| s == "..") {
        v.push(FieldError::invalid(path, target, "must not contain '..'"));
    }
}

fn handler(v: &mut Ctx, h: &Value, path: &str, kinds: &[&str]) {
    one_of(
        v,
        h,
        kinds,
        path,
        "handler type",
        "must specify a handler type",
    );
    if let Some(e) = h.get("exec").filter(|x| x.is_object()) {
        let p = child(path, "exec");
        if v.arr(e, "command", &p).is_empty() {
            v.push(FieldError::required(&child(&p, "command"), ""));
        }
    }
    if let Some(g) = h.get("httpGet").filter(|x| x.is_object()) {
        let p = child(path, "httpGet");
        if let Some(port) = g.get("port") {
            port_num_or_name(v, port, &child(&p, "port"));
        } else {
            port_num_or_name(v, &Value::from(0), &child(&p, "port"));
        }
        if let Some(s) = v.str(g, "scheme", &p) {
            if s != "HTTP" && s != "HTTPS" {
                v.push(FieldError::not_supported(
                    &child(&p, "scheme"),
                    s,
                    &["HTTP", "HTTPS"],
                ));
            }
        }
        for hd in v.arr(g, "httpHeaders", &p).to_vec() {
            let n = v.string(&hd, "name", &p).to_string();
            v.invalid_each(&child(&p, "httpHeaders"), &n, is_http_header_name(&n));
        }
    }
    if let Some(t) = h.get("tcpSocket").filter(|x| x.is_object()) {
        let p = child(path, "tcpSocket");
        port_num_or_name(
            v,
            t.get("port").unwrap_or(&Value::from(0)),
            &child(&p, "port"),
        );
    }
    if let Some(g) = h.get("grpc").filter(|x| x.is_object()) {
        let p = child(path, "grpc");
        let port = v.int(g, "port", &p).unwrap_or(0);
        for m in is_valid_port_num(port) {
            v.push(FieldError::invalid(&child(&p, "port"), port, &m));
        }
    }
    if let Some(s) = h.get("sleep").filter(|x| x.is_object()) {
        let p = child(path, "sleep");
        let secs = v.int(s, "seconds", &p).unwrap_or(0);
        if secs < 0 {
            v.push(FieldError::invalid(
                &child(&p, "seconds"),
                secs,
                "must be non-negative and less than terminationGracePeriodSeconds.",
            ));
        }
    }
}

fn probe(v: &mut Ctx, ctr: &Value, name: &str, path: &str) {
    let Some(pr) = v.obj(ctr, name, path) else {
        return;
    };
    let p = child(path, name);
    handler(v, pr, &p, &["exec", "httpGet", "tcpSocket", "grpc"]);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        let val = v.int(pr, f, &p);
        nonnegative(v, val, &child(&p, f));
    }
    let tgps = v.int(pr, "terminationGracePeriodSeconds", &p);
    if name == "readinessProbe" {
        if let Some(t) = tgps {
            v.push(FieldError::invalid(
                &child(&p, "terminationGracePeriodSeconds"),
                t,
                "must not be set for readinessProbes",
            ));
        }
    } else {
        if let Some(t) = tgps.filter(|t| *t <= 0) {
            v.push(FieldError::invalid(
                &child(&p, "terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
        if let Some(st) = pr.get("successThreshold").and_then(Value::as_i64) {
            if st != 1 {
                v.push(FieldError::invalid(
                    &child(&p, "successThreshold"),
                    st,
                    "must be 1",
                ));
            }
        }
    }
}

fn lifecycle(v: &mut Ctx, ctr: &Value, path: &str) {
    let Some(lc) = v.obj(ctr, "lifecycle", path) else {
        return;
    };
    let lp = child(path, "lifecycle");
    for hook in ["postStart", "preStop"] {
        if let Some(h) = v.obj(lc, hook, &lp) {
            handler(
                v,
                h,
                &child(&lp, hook),
                &["exec", "httpGet", "tcpSocket", "sleep"],
            );
        }
    }
}

fn container_common(v: &mut Ctx, ctr: &Value, vols: &[String], path: &str) {
    let name = v.string(ctr, "name", path);
    let np = child(path, "name");
    if name.is_empty() {
        v.push(FieldError::required(&np, ""));
    } else {
        v.invalid_each(&np, name, is_dns1123_label(name));
    }
    if v.string(ctr, "image", path).is_empty() {
        v.push(FieldError::required(&child(path, "image"), ""));
    }
    if let Some(t) = v.str(ctr, "terminationMessagePolicy", path) {
        const P: &[&str] = &["File", "FallbackToLogsOnError"];
        if t.is_empty() {
            v.push(FieldError::required(
                &child(path, "terminationMessagePolicy"),
                "",
            ));
        } else if !P.contains(&t) {
            v.push(FieldError::not_supported(
                &child(path, "terminationMessagePolicy"),
                t,
                P,
            ));
        }
    }
    container_ports(v, ctr, path);
    env(v, ctr, path);
    volume_mounts(v, ctr, vols, path);
    if let Some(pp) = v.str(ctr, "imagePullPolicy", path) {
        const P: &[&str] = &["Always", "IfNotPresent", "Never"];
        if pp.is_empty() {
            v.push(FieldError::required(&child(path, "imagePullPolicy"), ""));
        } else if !P.contains(&pp) {
            v.push(FieldError::not_supported(
                &child(path, "imagePullPolicy"),
                pp,
                P,
            ));
        }
    }
    container_resources(v, ctr, path);
}

fn containers(v: &mut Ctx, spec: &Value, vols: &[String], path: &str) -> Vec<String> {
    let cp = child(path, "containers");
    let list = v.arr(spec, "containers", path);
    if list.is_empty() {
        v.push(FieldError::required(&cp, ""));
    }
    let mut names: Vec<String> = Vec::new();
    for (i, ctr) in list.iter().enumerate() {
        let p = index(&cp, i);
        if !ctr.is_object() {
            v.push(FieldError::type_invalid(&p, ctr, "object"));
            continue;
        }
        container_common(v, ctr, vols, &p);
        let name = ctr.get("name").and_then(Value::as_str).unwrap_or("");
        if names.iter().any(|n| n == name) {
            v.push(FieldError::duplicate(&child(&p, "name"), name));
        } else {
            names.push(name.to_string());
        }
        lifecycle(v, ctr, &p);
        probe(v, ctr, "livenessProbe", &p);
        probe(v, ctr, "readinessProbe", &p);
        probe(v, ctr, "startupProbe", &p);
    }
    names
}

fn init_containers(v: &mut Ctx, spec: &Value, vols: &[String], mut names: Vec<String>, path: &str) {
    let cp = child(path, "initContainers");
    for (i, ctr) in v.arr(spec, "initContainers", path).iter().enumerate() {
        let p = index(&cp, i);
        if !ctr.is_object() {
            v.push(FieldError::type_invalid(&p, ctr, "object"));
            continue;
        }
        container_common(v, ctr, vols, &p);
        let name = ctr.get("name").and_then(Value::as_str).unwrap_or("");
        if names.iter().any(|n| n == name) {
            v.push(FieldError::duplicate(&child(&p, "name"), name));
        } else {
            names.push(name.to_string());
        }
        let sidecar = ctr.get("restartPolicy").and_then(Value::as_str) == Some("Always");
        if let Some(rp) = v.str(ctr, "restartPolicy", &p) {
            if rp != "Always" {
                v.push(FieldError::not_supported(
                    &child(&p, "restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        if sidecar {
            lifecycle(v, ctr, &p);
            probe(v, ctr, "livenessProbe", &p);
            probe(v, ctr, "readinessProbe", &p);
            probe(v, ctr, "startupProbe", &p);
        } else {
            for f in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if ctr.get(f).is_some_and(|x| !x.is_null()) {
                    v.push(FieldError::forbidden(
                        &child(&p, f),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// `ValidatePodSpec` at `path`; `restart_override` is unused by callers that
/// check restartPolicy themselves.
pub fn pod_spec(v: &mut Ctx, spec: &Value, path: &str) {
    let vols = volumes(v, spec, path);
    let names = containers(v, spec, &vols, path);
    init_containers(v, spec, &vols, names, path);
    if let Some(rp) = v.str(spec, "restartPolicy", path) {
        const P: &[&str] = &["Always", "OnFailure", "Never"];
        if rp.is_empty() {
            v.push(FieldError::required(&child(path, "restartPolicy"), ""));
        } else if !P.contains(&rp) {
            v.push(FieldError::not_supported(
                &child(path, "restartPolicy"),
                rp,
                P,
            ));
        }
    }
    let dns = v.str(spec, "dnsPolicy", path);
    if let Some(d) = dns {
        const P: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
        if d.is_empty() {
            v.push(FieldError::required(&child(path, "dnsPolicy"), ""));
        } else if !P.contains(&d) {
            v.push(FieldError::not_supported(&child(path, "dnsPolicy"), d, P));
        }
    }
    if let Some(ns) = v.string_map(spec, "nodeSelector", path) {
        validate_labels(v, &ns, &child(path, "nodeSelector"));
    }
    if dns == Some("None") && spec.get("dnsConfig").is_none_or(Value::is_null) {
        v.push(FieldError::required(
            &child(path, "dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    let sa = v.string(spec, "serviceAccountName", path);
    if !sa.is_empty() {
        v.invalid_each(
            &child(path, "serviceAccountName"),
            sa,
            is_dns1123_subdomain(sa),
        );
    }
    let node = v.string(spec, "nodeName", path);
    if !node.is_empty() {
        v.invalid_each(&child(path, "nodeName"), node, is_dns1123_subdomain(node));
    }
    if let Some(ads) = v.int(spec, "activeDeadlineSeconds", path) {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            v.push(FieldError::invalid(
                &child(path, "activeDeadlineSeconds"),
                ads,
                &inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    for f in ["hostname", "subdomain"] {
        let h = v.string(spec, f, path);
        if !h.is_empty() {
            v.invalid_each(&child(path, f), h, is_dns1123_label(h));
        }
    }
    let tp = child(path, "tolerations");
    for (i, t) in v.arr(spec, "tolerations", path).iter().enumerate() {
        let p = index(&tp, i);
        let k = v.string(t, "key", &p);
        if !k.is_empty() {
            v.invalid_each(&child(&p, "key"), k, is_qualified_name(k));
        }
        let op = v.string(t, "operator", &p);
        if k.is_empty() && op != "Exists" {
            v.push(FieldError::invalid(
                &child(&p, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let val = v.string(t, "value", &p);
        match op {
            "" | "Equal" => v.invalid_each(
                &child(&p, "value"),
                val,
                super::names::is_valid_label_value(val),
            ),
            "Exists" => {
                if !val.is_empty() {
                    v.push(FieldError::invalid(
                        &child(&p, "operator"),
                        val,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => v.push(FieldError::not_supported(
                &child(&p, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        let effect = v.string(t, "effect", &p);
        taint_effect(v, effect, true, &child(&p, "effect"));
    }
}

/// `ValidatePodTemplateSpec` at `path` (labels/annotations of the template
/// metadata plus the pod spec).
pub fn pod_template_spec(v: &mut Ctx, tmpl: &Value, path: &str) {
    let meta = v.obj(tmpl, "metadata", path).cloned().unwrap_or_else(empty);
    labels_and_annotations(v, &meta, &child(path, "metadata"));
    let spec = v.obj(tmpl, "spec", path).cloned().unwrap_or_else(empty);
    pod_spec(v, &spec, &child(path, "spec"));
}

/// `ValidatePodCreate` / `ValidatePodUpdate` (spec immutability not diffed).
pub fn pod(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    pod_spec(v, &spec, "spec");
    if let Some(old_spec) = old.and_then(|o| o.get("spec")) {
        pod_spec_update(v, &spec, old_spec);
    }
}

/// The upstream message for a pod update that changes more than the mutable fields.
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`'s spec rule: only images, activeDeadlineSeconds, added tolerations,
/// terminationGracePeriodSeconds and removed scheduling gates may change.
fn pod_spec_update(v: &mut Ctx, new: &Value, old: &Value) {
    let mut normalized = new.clone();
    if let Some(m) = normalized.as_object_mut() {
        for list in ["containers", "initContainers"] {
            let old_images: Vec<Option<Value>> = old
                .get(list)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|c| c.get("image").cloned()).collect())
                .unwrap_or_default();
            if let Some(items) = m.get_mut(list).and_then(Value::as_array_mut) {
                for (i, c) in items.iter_mut().enumerate() {
                    if let (Some(Some(img)), Some(cm)) = (old_images.get(i), c.as_object_mut()) {
                        cm.insert("image".into(), img.clone());
                    }
                }
            }
        }
        for field in [
            "activeDeadlineSeconds",
            "terminationGracePeriodSeconds",
            "schedulingGates",
        ] {
            match old.get(field) {
                Some(val) => {
                    m.insert(field.into(), val.clone());
                }
                None => {
                    m.remove(field);
                }
            }
        }
        // Tolerations may only be added to.
        let old_tol = old
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let new_tol = m
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if old_tol.iter().all(|t| new_tol.contains(t)) {
            match old.get("tolerations") {
                Some(val) => {
                    m.insert("tolerations".into(), val.clone());
                }
                None => {
                    m.remove("tolerations");
                }
            }
        }
    }
    if &normalized != old {
        let mut detail = POD_UPDATE_FORBIDDEN.to_string();
        if let (Some(n), Some(o)) = (normalized.as_object(), old.as_object()) {
            let mut changed: Vec<&str> = n
                .iter()
                .filter(|(k, val)| o.get(*k) != Some(*val))
                .map(|(k, _)| k.as_str())
                .chain(o.keys().filter(|k| !n.contains_key(*k)).map(String::as_str))
                .collect();
            changed.sort_unstable();
            changed.dedup();
            if !changed.is_empty() {
                detail.push_str(&format!("\n  changed: spec.{}", changed.join(", spec.")));
            }
        }
        v.errs.push(FieldError::forbidden("spec", &detail));
    }
}

/// `ValidatePodTemplate`.
pub fn pod_template(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let tmpl = v.obj(obj, "template", "").cloned().unwrap_or_else(empty);
    pod_template_spec(v, &tmpl, "template");
}

// ---------- Service / Endpoints ----------

/// `ValidateService` / `ValidateServiceUpdate` (main checks).
pub fn service(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Dns1035);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let sp = "spec";
    let ty = v.str(&spec, "type", sp).unwrap_or("ClusterIP");
    let cluster_ip = v.string(&spec, "clusterIP", sp);
    let mut ips: Vec<String> = v
        .arr(&spec, "clusterIPs", sp)
        .iter()
        .map(|x| x.as_str().unwrap_or("").to_string())
        .collect();
    if ips.is_empty() && !cluster_ip.is_empty() {
        ips.push(cluster_ip.to_string());
    }
    let headless = ty == "ClusterIP" && ips.len() == 1 && ips[0] == "None";
    let ports = v.arr(&spec, "ports", sp);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        v.push(FieldError::required("spec.ports", ""));
    }
    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !TYPES.contains(&ty) {
        v.push(FieldError::not_supported("spec.type", ty, TYPES));
    }
    if ty == "ExternalName" {
        if !ips.is_empty() {
            v.push(FieldError::forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        }
        let ext = v.string(&spec, "externalName", sp);
        let cname = ext.strip_suffix('.').unwrap_or(ext);
        if cname.is_empty() {
            v.push(FieldError::required("spec.externalName", ""));
        } else {
            v.invalid_each("spec.externalName", cname, is_dns1123_subdomain(cname));
        }
    } else {
        for (i, ip) in ips.iter().enumerate() {
            let p = index("spec.clusterIPs", i);
            if i == 0 && ip == "None" {
                if ips.len() > 1 {
                    v.push(FieldError::invalid(
                        &p,
                        ip.as_str(),
                        "'None' must be the first and only value",
                    ));
                }
                continue;
            }
            if !is_ip(ip) {
                v.push(FieldError::invalid(&p, ip.as_str(), IP_ERR));
            }
        }
        if !cluster_ip.is_empty() && !ips.is_empty() && ips[0] != cluster_ip {
            v.push(FieldError::invalid(
                "spec.clusterIPs",
                Value::Array(ips.iter().map(|s| Value::from(s.as_str())).collect()),
                "element [0] must match clusterIP",
            ));
        }
    }
    let require_name = ports.len() > 1;
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index("spec.ports", i);
        let name = v.string(port, "name", &p);
        if require_name && name.is_empty() {
            v.push(FieldError::required(&child(&p, "name"), ""));
        } else if !name.is_empty() {
            v.invalid_each(&child(&p, "name"), name, is_dns1123_label(name));
            if names.contains(&name) {
                v.push(FieldError::duplicate(&child(&p, "name"), name));
            } else {
                names.push(name);
            }
        }
        let pn = v.int(port, "port", &p).unwrap_or(0);
        for m in is_valid_port_num(pn) {
            v.push(FieldError::invalid(&child(&p, "port"), pn, &m));
        }
        protocol(v, port, &p);
        if let Some(tp) = port.get("targetPort") {
            port_num_or_name(v, tp, &child(&p, "targetPort"));
        }
        let np = v.int(port, "nodePort", &p).unwrap_or(0);
        if np != 0 {
            if ty != "NodePort" && ty != "LoadBalancer" {
                v.push(FieldError::forbidden(
                    &child(&p, "nodePort"),
                    &format!("may not be used when `type` is '{ty}'"),
                ));
            } else if !(30000..=32767).contains(&np) {
                v.push(FieldError::invalid(
                    &child(&p, "nodePort"),
                    np,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ));
            }
        }
    }
    if let Some(sel) = v.string_map(&spec, "selector", sp) {
        validate_labels(v, &sel, "spec.selector");
    }
    if let Some(sa) = v.str(&spec, "sessionAffinity", sp) {
        const P: &[&str] = &["ClientIP", "None"];
        if !sa.is_empty() && !P.contains(&sa) {
            v.push(FieldError::not_supported("spec.sessionAffinity", sa, P));
        }
    }
    if let Some(old) = old {
        let old_ip = old
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("");
        let old_ty = old
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        if old_ty != "ExternalName"
            && ty != "ExternalName"
            && !old_ip.is_empty()
            && old_ip != cluster_ip
            && !cluster_ip.is_empty()
        {
            v.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                cluster_ip,
                "may not change once set",
            ));
        }
    }
}

/// `ValidateEndpoints`.
pub fn endpoints(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    for (i, ss) in v.arr(obj, "subsets", "").iter().enumerate() {
        let p = index("subsets", i);
        let addrs = v.arr(ss, "addresses", &p);
        let nr = v.arr(ss, "notReadyAddresses", &p);
        if addrs.is_empty() && nr.is_empty() {
            v.push(FieldError::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (field, list) in [("addresses", addrs), ("notReadyAddresses", nr)] {
            for (j, a) in list.iter().enumerate() {
                let ap = index(&child(&p, field), j);
                let ip = v.string(a, "ip", &ap);
                if !is_ip(ip) {
                    v.push(FieldError::invalid(&child(&ap, "ip"), ip, IP_ERR));
                }
                let h = v.string(a, "hostname", &ap);
                if !h.is_empty() {
                    v.invalid_each(&child(&ap, "hostname"), h, is_dns1123_label(h));
                }
                let n = v.string(a, "nodeName", &ap);
                if !n.is_empty() {
                    v.invalid_each(&child(&ap, "nodeName"), n, is_dns1123_subdomain(n));
                }
            }
        }
        let ports = v.arr(ss, "ports", &p);
        let require_name = ports.len() > 1;
        for (j, port) in ports.iter().enumerate() {
            let pp = index(&child(&p, "ports"), j);
            let name = v.string(port, "name", &pp);
            if require_name && name.is_empty() {
                v.push(FieldError::required(&child(&pp, "name"), ""));
            } else if !name.is_empty() {
                v.invalid_each(&child(&pp, "name"), name, is_dns1123_label(name));
            }
            let pn = v.int(port, "port", &pp).unwrap_or(0);
            for m in is_valid_port_num(pn) {
                v.push(FieldError::invalid(&child(&pp, "port"), pn, &m));
            }
            protocol(v, port, &pp);
        }
    }
}

// ---------- PV / PVC ----------

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn access_modes(v: &mut Ctx, spec: &Value, path: &str, required_detail: &str) {
    let modes = v.arr(spec, "accessModes", path);
    let p = child(path, "accessModes");
    if modes.is_empty() {
        v.push(FieldError::required(&p, required_detail));
    }
    for m in modes {
        let s = m.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&s) {
            v.push(FieldError::not_supported(&p, m.clone(), ACCESS_MODES));
        }
    }
}

const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "fc",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
    "iscsi",
    "flexVolume",
];

/// `ValidatePersistentVolume` (main checks).
pub fn persistent_volume(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    access_modes(v, &spec, "spec", "");
    let cap = resource_list(v, &spec, "capacity", "spec");
    let raw_cap = spec.get("capacity").and_then(Value::as_object);
    if raw_cap.is_none_or(|c| c.is_empty()) {
        v.push(FieldError::required("spec.capacity", ""));
    }
    if raw_cap.is_some_and(|c| !c.contains_key("storage") || c.len() > 1) {
        v.push(FieldError::not_supported(
            "spec.capacity",
            spec.get("capacity").cloned().unwrap_or(Value::Null),
            &["storage"],
        ));
    }
    for (name, q) in &cap {
        let p = key("spec.capacity", name);
        if !q.is_negative() && q.is_zero() || q.is_negative() {
            v.push(FieldError::invalid(&p, q.to_string(), NOT_POSITIVE));
        }
    }
    if let Some(rp) = v.str(&spec, "persistentVolumeReclaimPolicy", "spec") {
        const P: &[&str] = &["Delete", "Recycle", "Retain"];
        if !rp.is_empty() && !P.contains(&rp) {
            v.push(FieldError::not_supported(
                "spec.persistentVolumeReclaimPolicy",
                rp,
                P,
            ));
        }
    }
    let sc = v.string(&spec, "storageClassName", "spec");
    if !sc.is_empty() {
        v.invalid_each("spec.storageClassName", sc, is_dns1123_subdomain(sc));
    }
    if let Some(vm) = v.str(&spec, "volumeMode", "spec") {
        if !["Block", "Filesystem"].contains(&vm) {
            v.push(FieldError::not_supported(
                "spec.volumeMode",
                vm,
                &["Block", "Filesystem"],
            ));
        }
    }
    one_of(
        v,
        &spec,
        PV_SOURCES,
        "spec",
        "volume type",
        "must specify a volume type",
    );
}

/// `ValidatePersistentVolumeClaim` (main checks).
pub fn persistent_volume_claim(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    access_modes(v, &spec, "spec", "at least 1 access mode is required");
    if let Some(sel) = v.obj(&spec, "selector", "spec") {
        super::meta::validate_label_selector(v, sel, "spec.selector");
    }
    let res = v
        .obj(&spec, "resources", "spec")
        .cloned()
        .unwrap_or_else(empty);
    let reqs = resource_list(v, &res, "requests", "spec.resources");
    let storage_path = key("spec.resources", "storage");
    let has_raw = res.pointer("/requests/storage").is_some();
    match reqs.iter().find(|(n, _)| n == "storage") {
        None if !has_raw => v.push(FieldError::required(&storage_path, "")),
        Some((_, q)) if q.is_negative() || q.is_zero() => {
            v.push(FieldError::invalid(
                &storage_path,
                q.to_string(),
                NOT_POSITIVE,
            ));
        }
        _ => {}
    }
    let sc = v.string(&spec, "storageClassName", "spec");
    if !sc.is_empty() {
        v.invalid_each("spec.storageClassName", sc, is_dns1123_subdomain(sc));
    }
    if let Some(vm) = v.str(&spec, "volumeMode", "spec") {
        if !["Block", "Filesystem"].contains(&vm) {
            v.push(FieldError::not_supported(
                "spec.volumeMode",
                vm,
                &["Block", "Filesystem"],
            ));
        }
    }
}

// ---------- LimitRange / ResourceQuota ----------

/// `ValidateLimitRange` (quantity checks and ordering of min/max/defaults).
pub fn limit_range(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let mut seen: Vec<String> = Vec::new();
    for (i, limit) in v.arr(&spec, "limits", "spec").iter().enumerate() {
        let p = index("spec.limits", i);
        let ty = v.string(limit, "type", &p).to_string();
        if seen.contains(&ty) {
            v.push(FieldError::duplicate(&child(&p, "type"), ty.as_str()));
        }
        seen.push(ty);
        let max = resource_list(v, limit, "max", &p);
        let min = resource_list(v, limit, "min", &p);
        let def = resource_list(v, limit, "default", &p);
        let defreq = resource_list(v, limit, "defaultRequest", &p);
        let ratio = resource_list(v, limit, "maxLimitRequestRatio", &p);
        for (f, list) in [
            ("max", &max),
            ("min", &min),
            ("default", &def),
            ("defaultRequest", &defreq),
            ("maxLimitRequestRatio", &ratio),
        ] {
            for (k, q) in list.iter() {
                let kp = key(&child(&p, f), k);
                resource_name(v, k, &kp);
                nonnegative_quantity(v, q, &kp);
            }
        }
        let get =
            |l: &[(String, Quantity)], k: &str| l.iter().find(|(n, _)| n == k).map(|(_, q)| *q);
        let mut keys: Vec<&String> = Vec::new();
        for (k, _) in max.iter().chain(&min).chain(&def).chain(&defreq) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in keys {
            let (mx, mn, df, dr) = (get(&max, k), get(&min, k), get(&def, k), get(&defreq, k));
            if let (Some(mn), Some(mx)) = (mn, mx) {
                if mn > mx {
                    v.push(FieldError::invalid(
                        &key(&child(&p, "min"), k),
                        mn.to_string(),
                        &format!("min value {mn} is greater than max value {mx}"),
                    ));
                }
            }
            if let (Some(dr), Some(mn)) = (dr, mn) {
                if mn > dr {
                    v.push(FieldError::invalid(
                        &key(&child(&p, "defaultRequest"), k),
                        dr.to_string(),
                        &format!("min value {mn} is greater than default request value {dr}"),
                    ));
                }
            }
            if let (Some(dr), Some(mx)) = (dr, mx) {
                if dr > mx {
                    v.push(FieldError::invalid(
                        &key(&child(&p, "defaultRequest"), k),
                        dr.to_string(),
                        &format!("default request value {dr} is greater than max value {mx}"),
                    ));
                }
            }
            if let (Some(dr), Some(df)) = (dr, df) {
                if dr > df {
                    v.push(FieldError::invalid(
                        &key(&child(&p, "defaultRequest"), k),
                        dr.to_string(),
                        &format!(
                            "default request value {dr} is greater than default limit value {df}"
                        ),
                    ));
                }
            }
            if let (Some(df), Some(mn)) = (df, mn) {
                if mn > df {
                    v.push(FieldError::invalid(
                        &key(&child(&p, "default"), k),
                        mn.to_string(),
                        &format!("min value {mn} is greater than default value {df}"),
                    ));
                }
            }
            if let (Some(df), Some(mx)) = (df, mx) {
                if df > mx {
                    v.push(FieldError::invalid(
                        &key(&child(&p, "default"), k),
                        mx.to_string(),
                        &format!("default value {df} is greater than max value {mx}"),
                    ));
                }
            }
        }
    }
}

/// `ValidateResourceQuota` (resource names and non-negative quantities).
pub fn resource_quota(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    for (k, q) in resource_list(v, &spec, "hard", "spec") {
        let p = key("spec.hard", &k);
        resource_name(v, &k, &p);
        nonnegative_quantity(v, &q, &p);
    }
    if let Some(status) = obj.get("status").filter(|s| s.is_object()) {
        for f in ["hard", "used"] {
            for (k, q) in resource_list(v, status, f, "status") {
                nonnegative_quantity(v, &q, &key(&child("status", f), &k));
            }
        }
    }
}
