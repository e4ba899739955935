//! Name → answer over the [`Index`], pure: the cluster zone (Services, endpoints, pods, SOA,
//! `dns-version`), reverse names of cluster IPs, and "forward it" for everything else.

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::index::{normalize, Index, Owner, Rec};

/// TTL of every answer from the index (the CoreDNS kubernetes plugin's default).
pub const TTL: u32 = 5;
/// The answer to `dns-version.<domain>` TXT (the version of the Kubernetes DNS specification).
pub const SCHEMA_VERSION: &str = "1.1.0";

/// An answer from the index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    /// NXDOMAIN (the name does not exist) rather than NOERROR.
    pub nxdomain: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the zone's SOA for NXDOMAIN and NODATA).
    pub authority: Vec<Record>,
    /// The additional section (addresses of SRV targets).
    pub additionals: Vec<Record>,
}

/// What to do with a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Answered from the index (authoritatively).
    Answer(Answer),
    /// Not ours: ask the upstream resolvers.
    Forward,
}

/// Answers `qname`/`qtype` from `index`.
pub fn answer(index: &Index, qname: &Name, qtype: RecordType) -> Outcome {
    let key = normalize(&qname.to_ascii());
    let domain = index.domain();
    let in_zone = key == domain || key.ends_with(&format!(".{domain}"));
    if !in_zone {
        let reverse = key.ends_with(".in-addr.arpa") || key.ends_with(".ip6.arpa");
        if reverse && !index.records(&key).is_empty() {
            return Outcome::Answer(reverse_answer(index, qname, &key, qtype));
        }
        return Outcome::Forward;
    }
    let mut out = Answer::default();
    if key == domain {
        match qtype {
            RecordType::SOA => out.answers.push(soa(index)),
            RecordType::NS => out.answers.push(record(
                qname.clone(),
                RData::NS(NS(fqdn(&format!("ns.dns.{domain}")))),
            )),
            _ => out.authority.push(soa(index)),
        }
        return Outcome::Answer(out);
    }
    if key == format!("dns-version.{domain}") {
        if matches!(qtype, RecordType::TXT | RecordType::ANY) {
            let txt = TXT::new(vec![SCHEMA_VERSION.to_string()]);
            out.answers.push(record(qname.clone(), RData::TXT(txt)));
        } else {
            out.authority.push(soa(index));
        }
        return Outcome::Answer(out);
    }
    if key == format!("ns.dns.{domain}") {
        // The SOA's and NS's name server: the `kube-dns` Service's addresses (as CoreDNS).
        let dns_service = format!("kube-dns.kube-system.svc.{domain}");
        for (_, rec) in index.records(&dns_service) {
            if rec_type(rec) == Some(qtype) || qtype == RecordType::ANY {
                if let (Rec::A(_) | Rec::Aaaa(_), Some(data)) = (rec, rdata(rec, 1)) {
                    out.answers.push(record(qname.clone(), data));
                }
            }
        }
        if out.answers.is_empty() {
            out.authority.push(soa(index));
        }
        return Outcome::Answer(out);
    }
    let recs = index.records(&key);
    if recs.is_empty() {
        let always = [format!("svc.{domain}"), format!("pod.{domain}")];
        if !index.has_children(&key) && !always.contains(&key) {
            out.nxdomain = true;
        }
        out.authority.push(soa(index));
        return Outcome::Answer(out);
    }
    if let Some(target) = recs.iter().find_map(|(_, r)| match r {
        Rec::Cname(t) => Some(t),
        _ => None,
    }) {
        // An alias answers every type with itself (resolvers follow it).
        let data = RData::CNAME(CNAME(fqdn(target)));
        out.answers.push(record(qname.clone(), data));
        return Outcome::Answer(out);
    }
    let matching: Vec<&Rec> = recs
        .iter()
        .map(|(_, r)| r)
        .filter(|r| qtype == RecordType::ANY || rec_type(r) == Some(qtype))
        .collect();
    let srv_count = matching
        .iter()
        .filter(|r| matches!(r, Rec::Srv { .. }))
        .count()
        .max(1);
    let weight = u16::try_from(100 / srv_count).unwrap_or(1).max(1);
    for rec in matching {
        let Some(data) = rdata(rec, weight) else {
            continue;
        };
        out.answers.push(record(qname.clone(), data));
        if let Rec::Srv { target, .. } = rec {
            for (_, r) in index.records(target) {
                if let (Rec::A(_) | Rec::Aaaa(_), Some(data)) = (r, rdata(r, weight)) {
                    let add = record(fqdn(target), data);
                    if !out.additionals.contains(&add) {
                        out.additionals.push(add);
                    }
                }
            }
        }
    }
    if out.answers.is_empty() {
        out.authority.push(soa(index));
    }
    out.answers.sort_by_key(|r| r.data.to_string());
    Outcome::Answer(out)
}

/// PTR answers for a reverse name: a Service's or endpoint's name wins over a pod's.
fn reverse_answer(index: &Index, qname: &Name, key: &str, qtype: RecordType) -> Answer {
    let mut out = Answer::default();
    if !matches!(qtype, RecordType::PTR | RecordType::ANY) {
        return out;
    }
    let recs = index.records(key);
    let by_service = recs.iter().any(|(o, _)| matches!(o, Owner::Service(..)));
    for (owner, rec) in recs {
        if by_service && matches!(owner, Owner::Pod(..)) {
            continue;
        }
        if let Rec::Ptr(target) = rec {
            out.answers
                .push(record(qname.clone(), RData::PTR(PTR(fqdn(target)))));
        }
    }
    out.answers.sort_by_key(|r| r.data.to_string());
    out.answers.dedup();
    out
}

/// The zone's SOA record.
pub fn soa(index: &Index) -> Record {
    let domain = index.domain();
    let data = SOA::new(
        fqdn(&format!("ns.dns.{domain}")),
        fqdn(&format!("hostmaster.{domain}")),
        index.serial(),
        7200,
        1800,
        86400,
        TTL,
    );
    record(fqdn(domain), RData::SOA(data))
}

fn rec_type(rec: &Rec) -> Option<RecordType> {
    Some(match rec {
        Rec::A(_) => RecordType::A,
        Rec::Aaaa(_) => RecordType::AAAA,
        Rec::Srv { .. } => RecordType::SRV,
        Rec::Cname(_) => RecordType::CNAME,
        Rec::Ptr(_) => RecordType::PTR,
        Rec::Exists => return None,
    })
}

fn rdata(rec: &Rec, weight: u16) -> Option<RData> {
    Some(match rec {
        Rec::A(ip) => RData::A(A(*ip)),
        Rec::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Rec::Srv { port, target } => RData::SRV(SRV::new(0, weight, *port, fqdn(target))),
        Rec::Cname(t) => RData::CNAME(CNAME(fqdn(t))),
        Rec::Ptr(t) => RData::PTR(PTR(fqdn(t))),
        Rec::Exists => return None,
    })
}

fn record(name: Name, data: RData) -> Record {
    Record::from_rdata(name, TTL, data)
}

/// `name` as an absolute DNS name (the root for a name that is not valid).
pub fn fqdn(name: &str) -> Name {
    let mut n = Name::from_ascii(name).unwrap_or_else(|_| Name::root());
    n.set_fqdn(true);
    n
}
