//! The bill of materials every image carries: flask-hello's (real debian12
//! base, wheels from sample-apps/wheelhouse) lists every Debian package the
//! image records and every wheel with its version and hash, passes the
//! published SPDX 2.3 and CycloneDX 1.6 JSON schemas (from the pinned wheel
//! tests/setup.sh downloads), reads back with `pypack sbom`, is the same
//! bytes from a second clean build, and is found in a registry through the
//! referrers API or its fallback tag.

mod common;

use common::registry::start_registry;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `pypack build sample-apps/flask-hello` from the wheelhouse, no smoke run.
fn build_flask(cache: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--no-smoke", "-t", "flask-hello:sbom"];
    args.extend(extra);
    build_sample(cache, "flask-hello", &args)
}

/// A file of the schema wheel, as JSON.
fn schema_file(wheel: &Path, name: &str) -> Value {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let file = zip.by_name(&format!("lib4sbom/schemas/{name}")).unwrap();
    serde_json::from_reader(file).unwrap()
}

/// The SPDX 2.3 and CycloneDX 1.6 validators, from the wheel setup.sh fetched.
fn validators(test: &str) -> Option<(jsonschema::Validator, jsonschema::Validator)> {
    let wheel = std::fs::read_dir(repo().join("tests/schemas"))
        .ok()
        .and_then(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.to_string_lossy().ends_with(".whl"))
        });
    if !required(test, "the SBOM schemas in tests/schemas/", wheel.is_some()) {
        return None;
    }
    let wheel = wheel.unwrap();
    let spdx = jsonschema::validator_for(&schema_file(&wheel, "spdx/2.3-schema.json")).unwrap();
    // CycloneDX refers to two schemas beside it by their ids.
    let mut registry = jsonschema::Registry::new();
    for name in ["spdx.schema.json", "jsf-0.82.schema.json"] {
        let contents = schema_file(&wheel, &format!("cyclonedx/{name}"));
        registry = registry
            .add(format!("http://cyclonedx.org/schema/{name}"), contents)
            .unwrap();
    }
    let registry = registry.prepare().unwrap();
    let cyclonedx = jsonschema::options()
        .with_registry(&registry)
        .build(&schema_file(&wheel, "cyclonedx/bom-1.6.schema.json"))
        .unwrap();
    Some((spdx, cyclonedx))
}

fn assert_valid(validator: &jsonschema::Validator, document: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} fails its schema: {errors:#?}");
}

/// name → sha256 of the wheels sample-apps/wheelhouse.txt pins.
fn wheelhouse_hashes() -> BTreeMap<String, String> {
    std::fs::read_to_string(repo().join("sample-apps/wheelhouse.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("--hash=sha256:"))
        .map(|l| {
            let name = l.split("==").next().unwrap().trim().to_string();
            let hash = l.split("--hash=sha256:").nth(1).unwrap().trim().to_string();
            (name, hash)
        })
        .collect()
}

#[test]
fn flask_hello_sbom_lists_everything_and_passes_the_schemas() {
    let test = "flask_hello_sbom_lists_everything_and_passes_the_schemas";
    if !debian_archive_configured(test) {
        return;
    }
    let Some((spdx_schema, cyclonedx_schema)) = validators(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, sboms) = (tmp.path().join("layout"), tmp.path().join("sbom"));
    let out = build_flask(
        shared_cache(),
        &[
            "--output",
            layout.to_str().unwrap(),
            "--sbom",
            sboms.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let spdx_bytes = std::fs::read(sboms.join("flask-hello.spdx.json")).unwrap();
    let cdx_bytes = std::fs::read(sboms.join("flask-hello.cdx.json")).unwrap();
    let spdx: Value = serde_json::from_slice(&spdx_bytes).unwrap();
    let cdx: Value = serde_json::from_slice(&cdx_bytes).unwrap();
    assert_valid(&spdx_schema, &spdx, "the SPDX document");
    assert_valid(&cyclonedx_schema, &cdx, "the CycloneDX document");
    // The validators do check: a broken copy of each fails.
    let mut broken = spdx.clone();
    broken["packages"][2]["filesAnalyzed"] = "yes".into();
    assert!(!spdx_schema.is_valid(&broken));
    let mut broken = cdx.clone();
    broken["components"][2]["hashes"] = serde_json::json!([{"alg": "SHA-256", "content": "xyz"}]);
    assert!(!cyclonedx_schema.is_valid(&broken));

    // Everything the image records is listed, with versions (and hashes).
    let inspect = pypack(
        shared_cache(),
        &["inspect", layout.to_str().unwrap(), "--json"],
    );
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let spdx_packages: BTreeMap<(String, String), &Value> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let purl = p["externalRefs"][0]["referenceLocator"]
                .as_str()
                .unwrap_or("");
            let kind = purl.split('/').next().unwrap_or("").to_string();
            ((kind, p["name"].as_str().unwrap().to_string()), p)
        })
        .collect();
    let cdx_components: BTreeMap<String, &Value> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["purl"].as_str()?.to_string(), c)))
        .collect();
    let os = inspected["os_packages"].as_array().unwrap();
    assert!(os.len() > 10, "{os:?}");
    for entry in os {
        let (name, version) = (entry[0].as_str().unwrap(), entry[1].as_str().unwrap());
        let listed = spdx_packages
            .get(&("pkg:deb".to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("{name} is not in the SPDX document"));
        assert_eq!(listed["versionInfo"], version, "{name}");
        assert!(
            cdx_components
                .keys()
                .any(|purl| purl.starts_with(&format!("pkg:deb/debian/{name}@"))
                    && purl.contains("arch=")
                    && purl.contains("distro=debian-12")),
            "{name} is not in the CycloneDX document"
        );
    }
    let hashes = wheelhouse_hashes();
    let python = inspected["python_packages"].as_array().unwrap();
    assert_eq!(python.len(), 8, "{python:?}");
    for entry in python {
        let name = entry[0].as_str().unwrap().to_lowercase();
        let version = entry[1].as_str().unwrap();
        let listed = spdx_packages
            .get(&("pkg:pypi".to_string(), name.clone()))
            .unwrap_or_else(|| panic!("{name} is not in the SPDX document"));
        assert_eq!(listed["versionInfo"], version, "{name}");
        assert_eq!(
            listed["checksums"][0]["checksumValue"], hashes[&name],
            "{name}"
        );
        let component = &cdx_components[&format!("pkg:pypi/{name}@{version}")];
        assert_eq!(component["hashes"][0]["content"], hashes[&name], "{name}");
    }
    // The app depends on what it requires; flask on werkzeug.
    let relations = spdx["relationships"].to_string();
    for (from, to) in [
        ("SPDXRef-app", "SPDXRef-pypi-flask"),
        ("SPDXRef-pypi-flask", "SPDXRef-pypi-werkzeug"),
    ] {
        assert!(
            relations.contains(&format!(
                "{{\"relatedSpdxElement\":\"{to}\",\"relationshipType\":\"DEPENDS_ON\",\"spdxElementId\":\"{from}\"}}"
            )),
            "{from} DEPENDS_ON {to}: {relations}"
        );
    }

    // The image carries the same documents; `pypack sbom` prints them.
    for (format, bytes) in [("spdx", &spdx_bytes), ("cyclonedx", &cdx_bytes)] {
        let printed = pypack(
            shared_cache(),
            &["sbom", layout.to_str().unwrap(), "--format", format],
        );
        assert!(printed.status.success(), "{}", stderr(&printed));
        assert_eq!(&printed.stdout, bytes, "{format}");
    }

    // A second clean build: the same bytes.
    let again = tmp.path().join("again");
    let out = build_flask(
        &tmp.path().join("fresh-cache"),
        &[
            "--output",
            tmp.path().join("layout2").to_str().unwrap(),
            "--sbom",
            again.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(again.join("flask-hello.spdx.json")).unwrap(),
        spdx_bytes
    );
    assert_eq!(
        std::fs::read(again.join("flask-hello.cdx.json")).unwrap(),
        cdx_bytes
    );
}

#[test]
fn pushed_sboms_are_found_as_referrers() {
    let test = "pushed_sboms_are_found_as_referrers";
    if !debian_archive_configured(test) || !tool_available("docker-registry", test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let registry = start_registry(tmp.path(), None);
    let reference = format!("127.0.0.1:{}/team/flask-hello:1", registry.port);
    let out = build_flask(
        shared_cache(),
        &["--push", &reference, "--insecure-registry", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = summary["digest"].as_str().unwrap();
    let base = format!("http://127.0.0.1:{}/v2/team/flask-hello", registry.port);
    let get = |url: &str| -> (u16, Vec<u8>) {
        let out = std::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-H", "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json", url])
            .output()
            .unwrap();
        let text = out.stdout;
        let split = text.iter().rposition(|&b| b == b'\n').unwrap();
        let code = String::from_utf8_lossy(&text[split + 1..]).parse().unwrap();
        (code, text[..split].to_vec())
    };
    // The referrers API where the registry has it, else the fallback tag.
    let (code, body) = get(&format!("{base}/referrers/{digest}"));
    let referrers: Value = if code == 200 {
        serde_json::from_slice(&body).unwrap()
    } else {
        let (code, body) = get(&format!("{base}/manifests/{}", digest.replace(':', "-")));
        assert_eq!(
            code,
            200,
            "no fallback tag: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    };
    let manifests = referrers["manifests"].as_array().unwrap();
    let mut types: Vec<&str> = manifests
        .iter()
        .map(|m| m["artifactType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["application/spdx+json", "application/vnd.cyclonedx+json"]
    );
    // The SPDX artifact refers to the image and holds its document.
    let spdx = manifests
        .iter()
        .find(|m| m["artifactType"] == "application/spdx+json")
        .unwrap();
    let (code, manifest) = get(&format!(
        "{base}/manifests/{}",
        spdx["digest"].as_str().unwrap()
    ));
    assert_eq!(code, 200);
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["subject"]["digest"], digest);
    let (code, document) = get(&format!(
        "{base}/blobs/{}",
        manifest["layers"][0]["digest"].as_str().unwrap()
    ));
    assert_eq!(code, 200);
    let printed = pypack(shared_cache(), &["sbom", &reference, "--insecure-registry"]);
    assert!(printed.status.success(), "{}", stderr(&printed));
    assert_eq!(
        printed.stdout, document,
        "the pushed document is the one in the image"
    );

    // The same image pushed again, to another tag and to the same one:
    // the registry stores nothing new (the referrers list comes in one order).
    let stored = || -> Vec<String> {
        let blobs = tmp.path().join("data/docker/registry/v2/blobs/sha256");
        let mut all: Vec<String> = std::fs::read_dir(&blobs)
            .unwrap()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
            .map(|b| b.file_name().to_string_lossy().into_owned())
            .collect();
        all.sort();
        all
    };
    let before = stored();
    assert!(before.len() > 5, "{before:?}");
    for tag in ["2", "1"] {
        let again = format!("127.0.0.1:{}/team/flask-hello:{tag}", registry.port);
        let out = build_flask(shared_cache(), &["--push", &again, "--insecure-registry"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("(0 blobs uploaded"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(stored(), before, "pushing {again} stored something new");
    }
}
