#!/usr/bin/env python3
"""Generate src/protobuf/descriptors.rs from the k8s-pb and k8s-openapi sources.

Usage (from the repository root):

    python3 tools/gen_protobuf_descriptors.py [--k8s-pb DIR] [--k8s-openapi DIR] [--out FILE] \
        2> tools/protobuf_descriptors_report.txt

By default the crate sources are looked up in ~/.cargo/registry/src/*/k8s-pb-0.9.0
and ~/.cargo/registry/src/*/k8s-openapi-0.29.0 (feature v1_33).

The k8s-pb (prost) sources give every protobuf message with its fields, tags,
wire kinds and message types.  prost snake_cases the proto field names
(`podIPs` -> `pod_i_ps`), so the JSON names are recovered from k8s-openapi's
Deserialize impls (`"podIPs" => Field::Key_pod_ips`), matching on the name
lowercased with `_`, `-` and `$` removed (falling back to a same-named type
in another version, then the first word of the prost doc comment, then a
unique JSON name anywhere in k8s-openapi, then camelCase).  Embedded Go structs
(`json:",inline"`, e.g. Volume.volumeSource) are detected and flattened.
A mapping report (which rule named each field) is printed on stderr.
"""
import argparse
import glob
import os
import re
import sys

HOME = os.path.expanduser("~")

# Directory (relative to the k8s-pb `src/`) prefix -> API group.
GROUPS = {
    "api/admission": "admission.k8s.io",
    "api/apidiscovery": "apidiscovery.k8s.io",
    "api/admissionregistration": "admissionregistration.k8s.io",
    "api/apiserverinternal": "internal.apiserver.k8s.io",
    "api/apps": "apps",
    "api/authentication": "authentication.k8s.io",
    "api/authorization": "authorization.k8s.io",
    "api/autoscaling": "autoscaling",
    "api/batch": "batch",
    "api/certificates": "certificates.k8s.io",
    "api/coordination": "coordination.k8s.io",
    "api/core": "",
    "api/discovery": "discovery.k8s.io",
    "api/events": "events.k8s.io",
    "api/extensions": "extensions",
    "api/flowcontrol": "flowcontrol.apiserver.k8s.io",
    "api/imagepolicy": "imagepolicy.k8s.io",
    "api/networking": "networking.k8s.io",
    "api/node": "node.k8s.io",
    "api/policy": "policy",
    "api/rbac": "rbac.authorization.k8s.io",
    "api/resource": "resource.k8s.io",
    "api/scheduling": "scheduling.k8s.io",
    "api/storage": "storage.k8s.io",
    "api/storagemigration": "storagemigration.k8s.io",
    "apiextensions_apiserver/pkg/apis/apiextensions": "apiextensions.k8s.io",
    "apimachinery/pkg/apis/meta": "meta.k8s.io",
    "kube_aggregator/pkg/apis/apiregistration": "apiregistration.k8s.io",
    "metrics/pkg/apis/metrics": "metrics.k8s.io",
    "metrics/pkg/apis/custom_metrics": "custom.metrics.k8s.io",
    "metrics/pkg/apis/external_metrics": "external.metrics.k8s.io",
}
SKIP_DIRS = ("apimachinery/pkg/apis/testapigroup",)

# Messages with a non-generic JSON form (full proto name -> Special variant).
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs": "ItemWrapper",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "Quantity",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
}
for v in ("v1", "v1beta1"):
    p = f"k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.{v}."
    SPECIAL[p + "JSON"] = "RawJson"
    SPECIAL[p + "JSONSchemaPropsOrArray"] = "PropsOrArray"
    SPECIAL[p + "JSONSchemaPropsOrBool"] = "PropsOrBool"
    SPECIAL[p + "JSONSchemaPropsOrStringArray"] = "PropsOrStringArray"

# Singular string fields that are Go pointers where "" differs from unset keep
# empty strings, as do fields k8s-openapi marks required (Go has no `omitempty`
# there); all others drop them, like Go's `omitempty`.
KEEP_EMPTY = {
    ("k8s.io.api.core.v1.PersistentVolumeClaimSpec", "storageClassName"),
    ("k8s.io.api.core.v1.PersistentVolumeClaimSpec", "volumeAttributesClassName"),
}

# prost field name -> JSON name, for fields newer than k8s-openapi whose
# camelCased prost name would lose an acronym.
OVERRIDES = {"share_id": "shareID"}

# (k8s-openapi dir, lowercase type name) -> JSON names of required fields; filled by parse_openapi.
REQUIRED = {}

SCALARS = {"string": "Str", "bytes": "Bytes", "bool": "Bool", "int32": "I32", "int64": "I64", "double": "F64"}


def norm(name):
    return re.sub(r"[_\-$]", "", name).lower()


def camel(snake):
    parts = snake.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def find_crate(pattern):
    hits = sorted(glob.glob(os.path.join(HOME, ".cargo/registry/src/*", pattern)))
    if not hits:
        sys.exit(f"cannot find {pattern} in ~/.cargo/registry/src")
    return hits[0]


def parse_openapi(root):
    """Return {(dir, lowername): (StructName, {norm(json): json})} and a global {norm: set(json)}."""
    structs = {}
    global_names = {}
    base = os.path.join(root, "src", "v1_33")
    for path in glob.glob(os.path.join(base, "**", "*.rs"), recursive=True):
        rel = os.path.relpath(os.path.dirname(path), base)
        src = open(path, encoding="utf-8").read()
        m = re.search(r"^// Generated from definition (\S+)", src, re.M)
        if not m:
            continue
        name = m.group(1).rsplit(".", 1)[1]
        fields = {}
        for json in re.findall(r'^\s*"([^"]+)" => Field::Key_\w+,', src, re.M):
            fields[norm(json)] = json
            global_names.setdefault(norm(json), set()).add(json)
        structs[(rel, name.lower())] = (name, fields)
        req = re.search(r'^            "required": \[(.*?)\]', src, re.M | re.S)
        if req:
            REQUIRED[(rel, name.lower())] = set(re.findall(r'"([^"]+)"', req.group(1)))
    return structs, global_names


def resolve(cur_dir, ty):
    """Resolve a prost type path relative to the module `cur_dir` to (dir, StructName)."""
    ty = re.sub(r"\s+", "", ty).replace(",>", ">")
    for wrap in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        while ty.startswith(wrap):
            ty = ty[len(wrap):-1]
    m = re.match(r"::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,(.*)>$", ty)
    if m:
        ty = m.group(1)
    parts = ty.split("::")
    d = cur_dir.split("/") if cur_dir else []
    if parts[0] == "crate":
        d, parts = [], parts[1:]
    while parts and parts[0] == "super":
        d.pop()
        parts = parts[1:]
    return "/".join(d + parts[:-1]), parts[-1]


def parse_pb(root):
    msgs = []  # (dir, rust_name, [(tag, rust_field, kind, label, type_ref)])
    base = os.path.join(root, "src")
    for path in sorted(glob.glob(os.path.join(base, "**", "mod.rs"), recursive=True)):
        rel = os.path.relpath(os.path.dirname(path), base)
        if rel.startswith(SKIP_DIRS):
            continue
        src = open(path, encoding="utf-8").read()
        for m in re.finditer(r"^pub struct (\w+) \{(\}|.*?^\})", src, re.M | re.S):
            fields = []
            for fm in re.finditer(r"((?:[ \t]*///[^\n]*\n)*)[ \t]*#\[prost\(([^\]]*)\)\]\s*pub (?:r#)?(\w+):\s*(.*?),\n(?=\s*(?:///|#\[|\}|$))", m.group(2), re.S):
                doc, attr, fname, ty = fm.groups()
                words = re.findall(r"///\s*(\S+)", doc)
                doc_word = words[0].strip(".,:`'\"") if words else ""
                tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
                first = attr.split(",")[0].strip()
                ref = None
                if first.startswith("btree_map") or first.startswith("map"):
                    vkind = re.search(r'map = "string, (\w+)"', attr).group(1)
                    label = {"string": "MapStr", "bytes": "MapBytes", "message": "MapMsg"}[vkind]
                    kind = "Msg" if vkind == "message" else SCALARS[vkind]
                    if vkind == "message":
                        ref = resolve(rel, ty)
                elif first.startswith("bytes"):
                    kind, label = "Bytes", ("Rep" if "repeated" in attr else "One")
                elif first == "message":
                    kind, label = "Msg", ("Rep" if "repeated" in attr else "One")
                    ref = resolve(rel, ty)
                elif first in SCALARS:
                    kind, label = SCALARS[first], ("Rep" if "repeated" in attr else "One")
                else:
                    sys.exit(f"unsupported prost attribute {attr} in {path}")
                fields.append((tag, fname, kind, label, ref, doc_word))
            msgs.append((rel, m.group(1), fields))
    return msgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s-pb", default=None)
    ap.add_argument("--k8s-openapi", default=None)
    ap.add_argument("--out", default="src/protobuf/descriptors.rs")
    args = ap.parse_args()
    pb_root = args.k8s_pb or find_crate("k8s-pb-0.9.0")
    oa_root = args.k8s_openapi or find_crate("k8s-openapi-0.29.0")

    structs, global_names = parse_openapi(oa_root)
    canonical_type = {}
    for (_, low), (name, _) in structs.items():
        canonical_type.setdefault(low, set()).add(name)
    msgs = parse_pb(pb_root)

    def proto_name(d, rust_name):
        hit = structs.get((d, rust_name.lower()))
        if hit:
            return hit[0]
        names = canonical_type.get(rust_name.lower())
        if names and len(names) == 1:
            return next(iter(names))
        return rust_name

    full = {}
    for d, rn, _ in msgs:
        full[(d, rn)] = "k8s.io." + d.replace("/", ".") + "." + proto_name(d, rn)
    order = sorted(full.values())
    index = {n: i for i, n in enumerate(order)}
    by_name = {full[(d, rn)]: (d, rn, f) for d, rn, f in msgs}

    by_low = {}
    for (sd, low), (_, sfields) in structs.items():
        by_low.setdefault(low, []).append((sd, sfields))

    def group_of(d):
        return d.rpartition("/")[0]

    def openapi_fields(d, rn):
        """JSON names of the k8s-openapi type for a message: exact, else a same-named type."""
        exact = structs.get((d, rn.lower()))
        if exact:
            return exact[1], "exact"
        cands = by_low.get(rn.lower(), [])
        same = [f for sd, f in cands if group_of(sd) == group_of(d)]
        use = same or [f for _, f in cands]
        if not use:
            return None, None
        merged = {}
        for f in use:
            for k, v in f.items():
                merged.setdefault(k, v)
        return merged, ("sibling" if same else "other-group")

    def covered_fraction(msg, st, depth):
        """Fraction of a message's fields whose JSON names appear in `st` (an inline candidate)."""
        _, _, tfields = msg
        if not tfields:
            return 0.0
        hit = 0
        for _, tname, tkind, tlabel, tref, _ in tfields:
            if norm(tname) in st:
                hit += 1
            elif tkind == "Msg" and tlabel == "One" and depth < 3:
                if covered_fraction(by_name[full[tref]], st, depth + 1) >= 0.5:
                    hit += 1
        return hit / len(tfields)

    report_global, report_doc, report_fallback, report_inline, no_struct = [], [], [], [], []
    out_msgs = []
    for name in order:
        d, rn, fields = by_name[name]
        special = SPECIAL.get(name, "None")
        if special == "None" and rn == "ExtraValue":
            special = "ItemWrapper"
        st, how = openapi_fields(d, rn)
        if st is None and special == "None":
            no_struct.append(name)
        out_fields = []
        for tag, fname, kind, label, ref, doc_word in sorted(fields):
            n = norm(fname)
            target = by_name[full[ref]] if ref else None
            if fname in OVERRIDES:
                json = OVERRIDES[fname]
            elif st is not None and n in st:
                json = st[n]
            elif (
                st is not None
                and fname not in ("spec", "status", "metadata")
                and special == "None"
                and kind == "Msg"
                and label == "One"
                and covered_fraction(target, st, 0) >= 0.5
            ):
                json = fname
                label = "Inline"
                report_inline.append(f"{name}.{fname} (inline {full[ref]})")
            elif doc_word[:1].islower() and norm(doc_word) == n:
                json = doc_word
                if special == "None":
                    report_doc.append(f"{name}.{fname} -> {json}")
            elif n in global_names and len(global_names[n]) == 1:
                json = next(iter(global_names[n]))
                if special == "None":
                    report_global.append(f"{name}.{fname} -> {json}")
            else:
                json = camel(fname)
                if special == "None":
                    report_fallback.append(f"{name}.{fname} -> {json}")
            msg = index[full[ref]] if ref else 0
            keep = (name, json) in KEEP_EMPTY or (
                kind == "Str" and label == "One" and json in REQUIRED.get((d, rn.lower()), ())
            )
            out_fields.append((tag, json, kind, label, msg, keep))
        out_msgs.append((name, special, out_fields))

    packages = []
    seen = set()
    for d, _, _ in msgs:
        if d in seen:
            continue
        seen.add(d)
        prefix, _, version = d.rpartition("/")
        if prefix not in GROUPS:
            continue
        group = GROUPS[prefix]
        api_version = f"{group}/{version}" if group else version
        packages.append((api_version, "k8s.io." + d.replace("/", ".")))
    packages.sort()

    lines = [
        "// @generated by tools/gen_protobuf_descriptors.py from k8s-pb 0.9.0 and k8s-openapi 0.29.0 (v1_33).",
        "// Do not edit by hand; rerun `python3 tools/gen_protobuf_descriptors.py`.",
        "",
        "//! Descriptor table of every Kubernetes protobuf message known to k8s-pb.",
        "",
        "use super::table::{FieldDesc as F, Kind::*, Label::*, MessageDesc as M, Special as S};",
        "",
        "/// `(apiVersion, proto package)` pairs, sorted by apiVersion.",
        "pub(super) static PACKAGES: &[(&str, &str)] = &[",
    ]
    for av, pkg in packages:
        lines.append(f'    ("{av}", "{pkg}"),')
    lines.append("];")
    lines.append("")
    lines.append("/// Every message, sorted by full proto name; fields sorted by tag.")
    lines.append("pub(super) static MESSAGES: &[M] = &[")
    for name, special, fields in out_msgs:
        fs = ", ".join(
            f'F::new({t}, "{j}", {k}, {l}, {m}{", true" if keep else ""})'.replace(", true)", ").keep_empty()")
            for t, j, k, l, m, keep in fields
        )
        lines.append(f'    M::new("{name}", S::{special}, &[{fs}]),')
    lines.append("];")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)

    print(f"{len(out_msgs)} messages, {sum(len(f) for _, _, f in out_msgs)} fields, {len(packages)} packages -> {args.out}", file=sys.stderr)
    print(f"messages without a k8s-openapi type ({len(no_struct)}):", file=sys.stderr)
    for n in no_struct:
        print("  " + n, file=sys.stderr)
    print(f"inline (embedded Go struct) fields ({len(report_inline)}):", file=sys.stderr)
    for n in report_inline:
        print("  " + n, file=sys.stderr)
    print(f"fields named from the first word of their doc comment ({len(report_doc)}):", file=sys.stderr)
    for n in report_doc:
        print("  " + n, file=sys.stderr)
    print(f"fields named from the global k8s-openapi name list ({len(report_global)}):", file=sys.stderr)
    for n in report_global:
        print("  " + n, file=sys.stderr)
    print(f"fields named by camelCasing the prost name ({len(report_fallback)}):", file=sys.stderr)
    for n in report_fallback:
        print("  " + n, file=sys.stderr)


if __name__ == "__main__":
    main()
