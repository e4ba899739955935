//! Authenticated users. Client certificates name them (CN = user, O = groups); service account
//! tokens (see [`crate::auth`]) name `system:serviceaccount:<ns>:<name>`. There is no anonymous
//! access.

use std::collections::BTreeMap;

/// The user a request was made by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name (`system:admin`).
    pub name: String,
    /// Groups (`system:masters`).
    pub groups: Vec<String>,
    /// UID, when known.
    pub uid: String,
    /// Extra attributes (`authentication.kubernetes.io/credential-id`, …).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The user as `authentication.k8s.io/v1` `UserInfo` JSON, with `system:authenticated` added
    /// as upstream's authenticator chain does.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("username".into(), self.name.clone().into());
        if !self.uid.is_empty() {
            m.insert("uid".into(), self.uid.clone().into());
        }
        let mut groups = self.groups.clone();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        m.insert("groups".into(), serde_json::json!(groups));
        if !self.extra.is_empty() {
            m.insert("extra".into(), serde_json::json!(self.extra));
        }
        serde_json::Value::Object(m)
    }
}
