#!/usr/bin/env python3
"""Generates src/schema/meta.json: the structure of every Kubernetes v1.33 API type with the list and
patch metadata (x-kubernetes-list-type, -list-map-keys, -map-type, -patch-strategy, -patch-merge-key)
that strategic merge patch and server-side apply need, and which k8s-openapi's schemas lack.

Source: the v1.33 definitions shipped in the kubernetes-validate wheel on PyPI (derived from the
upstream OpenAPI spec). Regenerate with:

    pip download --no-deps -d /tmp/kv kubernetes-validate==1.37.0
    python3 tools/gen_schema_meta.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl > src/schema/meta.json
"""
import json
import sys
import zipfile

PATH = "kubernetes_validate/kubernetes-json-schema/v1.33.0-local/_definitions.json"


def ref_name(node):
    ref = node.get("$ref")
    if ref:
        return ref.rsplit("/", 1)[-1]
    return None


def types(node):
    t = node.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"]
        t = t[0] if t else None
    return t


def prop(node):
    out = {}
    r = ref_name(node)
    t = types(node)
    if r:
        out["r"] = r
        t = "object"
    elif t == "array":
        items = node.get("items", {})
        r = ref_name(items)
        if r:
            out["r"] = r
        else:
            it = types(items)
            if it:
                out["i"] = it
    elif t == "object":
        ap = node.get("additionalProperties")
        if isinstance(ap, dict):
            r = ref_name(ap)
            if r:
                out["r"] = r
            out["m"] = 1
            if not r and isinstance(ap.get("items"), dict):
                out["i"] = "array"
    if t:
        out["t"] = t
    for key, short in [("x-kubernetes-list-type", "lt"), ("x-kubernetes-list-map-keys", "mk"),
                       ("x-kubernetes-map-type", "mt"), ("x-kubernetes-patch-strategy", "ps"),
                       ("x-kubernetes-patch-merge-key", "pk")]:
        if key in node:
            out[short] = node[key]
    return out


def main():
    with zipfile.ZipFile(sys.argv[1]) as z:
        defs = json.loads(z.read(PATH))["$defs"]
    out = {}
    for name in sorted(defs):
        d = defs[name]
        entry = {"p": {k: prop(v) for k, v in sorted(d.get("properties", {}).items())}}
        if "x-kubernetes-map-type" in d:
            entry["mt"] = d["x-kubernetes-map-type"]
        if "x-kubernetes-group-version-kind" in d:
            entry["g"] = [[g["group"], g["version"], g["kind"]] for g in d["x-kubernetes-group-version-kind"]]
        t = types(d)
        if t and t != "object":
            entry["t"] = t
        out[name] = entry
    json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
