//! Unit tests of the release table: the tags, their ranges and what is derived from them.

use std::cmp::Ordering;

use super::version::numeric;
use super::*;

const TAGS: &[&str] = &[
    "v2.31.0", "v2.30.0", "v2.29.1", "v2.29.0", "v2.28.1", "v2.28.0", "v2.27.1", "v2.27.0",
    "v2.26.1", "v2.26.0", "v2.25.1", "v2.25.0",
];

fn tag_num(tag: &str) -> &str {
    tag.strip_prefix('v').expect("tag starts with v")
}

fn is_xyz(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| *p == "0" || (numeric(p).is_some() && !p.starts_with('0')))
}

#[test]
fn version_cmp_is_numeric() {
    use Ordering::*;
    assert_eq!(version_cmp("1.35.10", "1.35.9"), Greater);
    assert_eq!(version_cmp("1.35.9", "1.35.10"), Less);
    assert_eq!(version_cmp("1.9", "1.10"), Less);
    assert_eq!(version_cmp("2.16.19", "2.17.0"), Less);
    assert_eq!(version_cmp("2.16.4", "2.16.4"), Equal);
    assert_eq!(version_cmp("2.16", "2.16.0"), Equal);
    assert_eq!(version_cmp("2.16.1", "2.16"), Greater);
    assert_eq!(version_cmp("10.0.0", "9.99.99"), Greater);
    assert_eq!(version_cmp("1.02", "1.2"), Equal);
    assert_eq!(version_cmp("1.2.x", "1.2.3"), Greater);
    assert_eq!(version_cmp("1.2.a", "1.2.b"), Less);
    assert_eq!(version_cmp("", ""), Equal);
    assert_eq!(version_cmp("99999999999999999999999", "1"), Greater);
}

#[test]
fn exactly_the_expected_tags_newest_first() {
    assert_eq!(known_tags().collect::<Vec<_>>(), TAGS);
    for w in RELEASES.windows(2) {
        assert_eq!(version_cmp(tag_num(w[0].tag), tag_num(w[1].tag)), Ordering::Greater);
    }
    let mut tags: Vec<_> = known_tags().collect();
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len(), RELEASES.len(), "tags are unique");
    assert_eq!(newest().tag, "v2.31.0");
    assert_eq!(find("v2.25.1").map(|r| r.tag), Some("v2.25.1"));
    assert!(find("v2.24.3").is_none());
    assert!(find("2.31.0").is_none());
}

#[test]
fn kube_versions_sorted_newest_first_and_hold_the_default() {
    for r in RELEASES {
        assert!(!r.kube_versions.is_empty(), "{}", r.tag);
        for v in r.kube_versions {
            assert!(is_xyz(v), "{}: {v} is X.Y.Z", r.tag);
        }
        for w in r.kube_versions.windows(2) {
            assert_eq!(version_cmp(w[0], w[1]), Ordering::Greater, "{}: {w:?}", r.tag);
        }
    }
}

#[test]
fn kube_version_ranges() {
    let expect = [
        ("v2.31.0", "1.33.0", "1.35.4", 25),
        ("v2.30.0", "1.32.0", "1.34.3", 24),
        ("v2.29.1", "1.31.0", "1.33.7", 34),
        ("v2.29.0", "1.31.0", "1.33.5", 30),
        ("v2.28.1", "1.30.0", "1.32.8", 37),
        ("v2.28.0", "1.30.0", "1.32.5", 30),
        ("v2.27.1", "1.29.0", "1.31.9", 40),
        ("v2.27.0", "1.29.0", "1.31.4", 27),
        ("v2.26.1", "1.28.0", "1.30.6", 34),
        ("v2.26.0", "1.28.0", "1.30.4", 26),
        ("v2.25.1", "1.27.0", "1.29.10", 44),
        ("v2.25.0", "1.27.0", "1.29.5", 32),
    ];
    for (tag, oldest, newest, count) in expect {
        let r = find(tag).unwrap();
        assert_eq!(r.kube_versions.last(), Some(&oldest), "{tag}");
        assert_eq!(r.kube_versions.first(), Some(&newest), "{tag}");
        assert_eq!(r.kube_versions.len(), count, "{tag}");
    }
}

#[test]
fn ansible_core_pin_inside_window() {
    for r in RELEASES {
        let (min, max) = r.ansible_core_window;
        assert!(is_xyz(r.ansible_core) && is_xyz(min) && is_xyz(max), "{}", r.tag);
        assert_eq!(version_cmp(min, max), Ordering::Less, "{}", r.tag);
        assert!(r.ansible_core_allowed(r.ansible_core), "{}: {}", r.tag, r.ansible_core);
        assert!(!r.ansible_core_allowed(max), "{}: maximum is exclusive", r.tag);
        assert!(r.ansible_core_allowed(min), "{}: minimum is inclusive", r.tag);
    }
}

#[test]
fn ansible_pin_matches_core_series_and_python() {
    // ansible N requires ansible-core 2.(N+7).x (PyPI metadata of the pinned packages).
    for r in RELEASES {
        let ansible = ansible_pin(r.requirements);
        let major: u32 = ansible.split('.').next().unwrap().parse().unwrap();
        let core_minor: u32 = r.ansible_core.split('.').nth(1).unwrap().parse().unwrap();
        assert_eq!(
            core_minor,
            major + 7,
            "{}: ansible {ansible} vs core {}",
            r.tag,
            r.ansible_core
        );
        let (lo, hi) = r.python_minor;
        assert!(lo <= hi && lo >= 10, "{}", r.tag);
        let want = if core_minor >= 18 { (11, 13) } else { (10, 12) };
        assert_eq!(r.python_minor, want, "{}", r.tag);
    }
}

fn ansible_pin(requirements: &str) -> &str {
    let pins: Vec<&str> =
        requirements.lines().filter_map(|l| l.strip_prefix("ansible==")).collect();
    assert_eq!(pins.len(), 1);
    pins[0]
}

#[test]
fn requirements_are_plain_pin_files() {
    for r in RELEASES {
        let req = r.requirements;
        assert!(req.ends_with('\n') && !req.ends_with("\n\n"), "{}", r.tag);
        assert!(!req.contains('\r'), "{}", r.tag);
        assert!(req.starts_with("ansible=="), "{}", r.tag);
        assert!(is_xyz(ansible_pin(req)), "{}", r.tag);
        for line in req.lines() {
            if line.starts_with("# ") {
                continue;
            }
            let (name, version) = line.split_once("==").expect("name==version");
            assert!(!name.is_empty() && !name.contains(' '), "{}: {line}", r.tag);
            assert!(is_xyz(version), "{}: {line}", r.tag);
        }
    }
    // Same pins, different order.
    let (a, b) = (find("v2.25.0").unwrap(), find("v2.25.1").unwrap());
    assert_ne!(a.requirements, b.requirements);
    let sorted = |s: &'static str| {
        let mut v: Vec<_> = s.lines().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(sorted(a.requirements), sorted(b.requirements));
    assert!(a.requirements.ends_with("jsonschema==4.22.0\n"));
    assert!(b.requirements.ends_with("ruamel.yaml.clib==0.2.8\n"));
}

#[test]
fn v_prefix_exactly_up_to_v2_27_1() {
    let prefixed: Vec<&str> =
        RELEASES.iter().filter(|r| r.kube_version_v_prefix()).map(|r| r.tag).collect();
    assert_eq!(prefixed, ["v2.27.1", "v2.27.0", "v2.26.1", "v2.26.0", "v2.25.1", "v2.25.0"]);
    let old = find("v2.27.1").unwrap();
    assert_eq!(old.kube_version_value("1.31.9"), "v1.31.9");
    assert_eq!(find("v2.28.0").unwrap().kube_version_value("1.32.5"), "1.32.5");
}

#[test]
fn release_dependent_flags() {
    for r in RELEASES {
        let t = tag_num(r.tag);
        // The last tag before each change, as read in kubespray (see the notes above).
        assert_eq!(r.static_k8s_cluster_group(), version_cmp(t, "2.26.1").is_le(), "{}", r.tag);
        assert_eq!(r.metallb_namespace_required(), version_cmp(t, "2.29.1").is_le(), "{}", r.tag);
    }
}

#[test]
fn allowed_values_hold_the_defaults() {
    for r in RELEASES {
        let t = tag_num(r.tag);
        assert!(r.network_plugins.contains(&DEFAULT_NETWORK_PLUGIN), "{}", r.tag);
        assert!(r.proxy_modes.contains(&DEFAULT_PROXY_MODE), "{}", r.tag);
        assert!(r.container_managers.contains(&DEFAULT_CONTAINER_MANAGER), "{}", r.tag);
        assert_eq!(r.network_plugins.contains(&"weave"), version_cmp(t, "2.29.0").is_lt());
        assert_eq!(r.network_plugins.contains(&"none"), version_cmp(t, "2.27.0").is_ge());
        assert_eq!(r.proxy_modes.contains(&"nftables"), version_cmp(t, "2.28.0").is_ge());
    }
}
