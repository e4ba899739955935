//! Authenticated users. Client certificates name them (CN = user, O = groups); there is no
//! anonymous access.

/// The user a request was made by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name (`system:admin`).
    pub name: String,
    /// Groups (`system:masters`).
    pub groups: Vec<String>,
    /// UID, when known.
    pub uid: String,
}
