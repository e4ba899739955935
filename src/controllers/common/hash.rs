//! Pod template hashing as upstream's `controller.ComputeHash`: FNV-32a over the template, then
//! the collision count as 8 little-endian bytes, the decimal sum encoded with
//! `rand.SafeEncodeString`'s alphabet.
//!
//! Upstream feeds the hasher a `spew` dump of the Go struct; we feed it the template's canonical
//! JSON (keys sorted, no whitespace), so the algorithm and output format are upstream's but the
//! values differ from a real kube-controller-manager's for the same template.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// Upstream's `rand` alphabet (no vowels, no confusable characters).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-32a of `data`, continuing from `state` (start with [`FNV_OFFSET`]).
pub fn fnv32a(mut state: u32, data: &[u8]) -> u32 {
    for b in data {
        state ^= u32::from(*b);
        state = state.wrapping_mul(16_777_619);
    }
    state
}

/// FNV-32a offset basis.
pub const FNV_OFFSET: u32 = 2_166_136_261;

/// Maps every character of `s` into the safe alphabet (upstream's `rand.SafeEncodeString`).
pub fn safe_encode_string(s: &str) -> String {
    s.chars()
        .map(|c| ALPHANUMS[(c as usize) % ALPHANUMS.len()] as char)
        .collect()
}

/// Canonical JSON: object keys sorted at every level.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The `pod-template-hash` of `template` with the deployment's `collision_count`.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let value = serde_json::to_value(template).unwrap_or(Value::Null);
    let mut text = String::new();
    canonical(&value, &mut text);
    let mut h = fnv32a(FNV_OFFSET, text.as_bytes());
    if let Some(c) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(c as u32).to_le_bytes());
        h = fnv32a(h, &bytes);
    }
    safe_encode_string(&h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv32a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn safe_encoding_as_upstream() {
        // '0' is 48, 48 % 27 = 21 → '4'; '9' is 57 → 3 → 'f'.
        assert_eq!(safe_encode_string("09"), "4f");
    }

    #[test]
    fn collision_count_changes_hash() {
        let t = PodTemplateSpec::default();
        assert_ne!(compute_hash(&t, None), compute_hash(&t, Some(1)));
        assert_eq!(compute_hash(&t, Some(1)), compute_hash(&t, Some(1)));
        assert!(compute_hash(&t, None).len() <= 10);
    }
}
