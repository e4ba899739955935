//! Merge lists: merging by key, scalar unions, deletions and upstream's ordering rules
//! (`$setElementOrder` first, then the patch's order, then the live object's).

use serde_json::{Map, Value};

use super::{
    extract_key, go_format, go_type, merge_map, same, FieldMeta, Shape, SmpError, SmpResult,
    DIRECTIVE, ORDER_PREFIX,
};

/// What a list holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Maps (merged by key).
    Maps,
    /// Scalars.
    Scalars,
}

/// The common element kind of `lists` (upstream's `sliceElementType`); `None` when all are
/// empty.
fn element_kind(lists: &[&[Value]]) -> SmpResult<Option<Kind>> {
    let mut first: Option<&'static str> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        if v.is_array() {
            return Err(SmpError::NoListOfLists);
        }
        let t = super::go_type(v);
        match first {
            None => first = Some(t),
            Some(f) if f != t => {
                let all: Vec<String> = lists
                    .iter()
                    .map(|l| go_format(&Value::Array(l.to_vec())))
                    .collect();
                return Err(SmpError::MixedList(format!("[{}]", all.join(" "))));
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|t| {
        if t == "map[string]interface {}" {
            Kind::Maps
        } else {
            Kind::Scalars
        }
    }))
}

/// The value an item is matched by: its merge key's value for maps, itself for scalars.
fn match_value<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(k) => item.as_object().and_then(|m| m.get(k)),
        None => Some(item),
    }
}

/// Position of `item` in `list`, matching as upstream's `index` does.
fn index(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let want = match_value(item, key);
    list.iter().position(|v| match (want, match_value(v, key)) {
        (Some(a), Some(b)) => same(a, b),
        (None, None) => true,
        _ => false,
    })
}

fn no_merge_key(item: &Value, key: &str) -> SmpError {
    SmpError::NoMergeKey {
        map: go_format(item),
        key: key.to_string(),
    }
}

/// Checks every item of `lists` is a map carrying `key`.
fn require_merge_key(key: &str, lists: &[&[Value]]) -> SmpResult<()> {
    for item in lists.iter().flat_map(|l| l.iter()) {
        match item {
            Value::Object(m) if m.contains_key(key) => {}
            Value::Object(_) => return Err(no_merge_key(item, key)),
            other => {
                return Err(SmpError::BadArgType {
                    expected: "map[string]interface {}",
                    actual: go_type(other),
                })
            }
        }
    }
    Ok(())
}

/// Sorts `items` stably by their position in `order` (items not in it go last).
fn sort_by_order(items: &mut [Value], order: &[Value], key: Option<&str>) {
    items.sort_by_cached_key(|v| index(order, v, key).unwrap_or(usize::MAX));
}

/// Interleaves the server-only items into the sorted patch items, keeping both relative orders
/// and placing server-only items by their position in the live list (`mergeSortedSlice`).
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        let take_left = match (l.peek(), r.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => matches!(
                (index(server_order, a, key), index(server_order, b, key)),
                (Some(i), Some(j)) if i < j
            ),
        };
        let next = if take_left { l.next() } else { r.next() };
        out.extend(next);
    }
    out
}

/// Orders the merged list: patch items by `patch_order`, server-only items by `server_order`,
/// then interleaved (`normalizeElementOrder`).
fn normalize_order(
    merged: Vec<Value>,
    partition_by: &[Value],
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
    kind: Kind,
) -> SmpResult<Vec<Value>> {
    if kind == Kind::Maps {
        let k = key.ok_or(SmpError::NoMergeKeyDeclared)?;
        require_merge_key(k, &[&merged, partition_by])?;
    }
    let (mut patch_items, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| index(partition_by, v, key).is_some());
    if let Some(k) = key {
        require_merge_key(k, &[patch_order, server_order])?;
    }
    sort_by_order(&mut patch_items, patch_order, key);
    sort_by_order(&mut server_only, server_order, key);
    Ok(merge_sorted(server_only, patch_items, server_order, key))
}

/// Merges a patch list into a list whose field has the `merge` strategy (`mergeSlice`).
/// `delete_list` marks a `$deleteFromPrimitiveList` list.
pub(super) fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldMeta,
    delete_list: bool,
) -> SmpResult<Vec<Value>> {
    let Some(kind) = element_kind(&[&original, &patch])? else {
        return Ok(original);
    };
    if kind == Kind::Scalars {
        if delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.iter().any(|d| same(d, v)))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.iter().any(|m| same(m, v)) {
                merged.push(v.clone());
            }
        }
        return normalize_order(merged, &patch, &patch, &original, None, kind);
    }
    let key = meta.merge_key.ok_or(SmpError::NoMergeKeyDeclared)?;
    let (original, patch) = special_elements(original, patch, key)?;
    let mut merged = original.clone();
    for item in patch.iter().cloned() {
        let Value::Object(p) = item else {
            return Err(SmpError::NotAMap(0));
        };
        let Some(want) = p.get(key).cloned() else {
            return Err(no_merge_key(&Value::Object(p), key));
        };
        match find_by_key(&merged, key, &want)? {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut merged[i]) else {
                    return Err(SmpError::NotAMap(i));
                };
                merged[i] = Value::Object(merge_map(o, p, meta.shape)?);
            }
            None => merged.push(Value::Object(merge_map(Map::new(), p, meta.shape)?)),
        }
    }
    normalize_order(merged, &patch, &patch, &original, Some(key), kind)
}

/// The position of the map whose `key` equals `want` (`findMapInSliceBasedOnKeyValue`).
fn find_by_key(list: &[Value], key: &str, want: &Value) -> SmpResult<Option<usize>> {
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(SmpError::NotAMap(i));
        };
        if m.get(key).is_some_and(|x| same(x, want)) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Handles `$patch` items: `delete` removes the matching items from `original`, `replace`
/// makes the rest of the patch the new list. Returns the new original and the patch without
/// directive items (`mergeSliceWithSpecialElements`).
fn special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> SmpResult<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(want) = item.get(key) else {
                    return Err(no_merge_key(&item, key));
                };
                while let Some(i) = find_by_key(&original, key, want)? {
                    original.remove(i);
                }
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(SmpError::MergeInList),
            _ => {
                return Err(SmpError::BadPatchType {
                    directive: go_format(directive),
                    map: go_format(&item),
                })
            }
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Checks the patch list follows the `$setElementOrder` list's order
/// (`validatePatchWithSetOrderList`).
fn check_order(patch: &[Value], order: &[Value], key: Option<&str>) -> SmpResult<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = match key {
        Some(_) => {
            for v in patch {
                if !v.is_object() {
                    return Err(SmpError::BadArgType {
                        expected: "map[string]interface {}",
                        actual: go_type(v),
                    });
                }
            }
            patch
                .iter()
                .filter(|v| v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
                .collect()
        }
        None => patch.iter().collect(),
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < items.len() && oi < order.len() {
        if items[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        let equal = match key {
            None => same(items[pi], &order[oi]),
            Some(k) => {
                let a = items[pi].get(k).ok_or_else(|| no_merge_key(items[pi], k))?;
                let b = match &order[oi] {
                    Value::Object(m) => m.get(k).ok_or_else(|| no_merge_key(&order[oi], k))?,
                    other => {
                        return Err(SmpError::BadArgType {
                            expected: "map[string]interface {}",
                            actual: go_type(other),
                        })
                    }
                };
                same(a, b)
            }
        };
        if equal {
            pi += 1;
        }
        oi += 1;
    }
    if pi < items.len() {
        return Err(SmpError::OrderMismatch {
            patch: go_format(&Value::Array(patch.to_vec())),
            order: go_format(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

fn as_list(v: Option<Value>) -> SmpResult<Option<Vec<Value>>> {
    match v {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(SmpError::BadArgType {
            expected: "[]interface {}",
            actual: go_type(&other),
        }),
    }
}

/// Processes every `$setElementOrder/<field>` of `patch` together with the field's patch list:
/// merges them into `original` and orders the result (`mergePatchIntoOriginal`).
pub(super) fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    shape: Shape,
) -> SmpResult<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(ORDER_PREFIX))
        .cloned()
        .collect();
    for k in keys {
        let Some(order) = patch.remove(&k) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(SmpError::BadArgType {
                expected: "[]interface {}",
                actual: go_type(&order),
            });
        };
        let field = extract_key(&k, ORDER_PREFIX)?;
        let orig = as_list(original.get(&field).cloned())?;
        let plist = as_list(patch.get(&field).cloned())?;
        let meta = shape.field(&field);
        let key = meta.merge_key;
        check_order(plist.as_deref().unwrap_or_default(), &order, key)?;
        let orig_items = orig.clone().unwrap_or_default();
        let merged = match (orig, plist.clone()) {
            (Some(o), None) => o,
            (None, Some(p)) => p,
            (Some(o), Some(p)) if meta.merge => merge_slice(o, p, meta, false)?,
            (Some(_), Some(p)) => p,
            (None, None) => continue,
        };
        patch.remove(&field);
        let kind = element_kind(&[&orig_items, plist.as_deref().unwrap_or_default()])?;
        let both = match kind {
            None => merged,
            Some(Kind::Maps) if key.is_none() => {
                return Err(no_merge_key(merged.first().unwrap_or(&Value::Null), ""))
            }
            Some(kind) => normalize_order(merged, &order, &order, &orig_items, key, kind)?,
        };
        original.insert(field, Value::Array(both));
    }
    Ok(())
}
