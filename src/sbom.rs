//! The image's bill of materials: its Debian packages (read from the dpkg
//! records in its base and system-library layers), its Python packages (the
//! pins, with the hash and source of each wheel), the app, and what depends
//! on what, as an SPDX 2.3 and a CycloneDX 1.6 JSON document. Nothing in
//! them depends on the time or the machine: the build's epoch is their date,
//! and their identifiers are derived from their content.

use crate::cache::Cache;
use crate::digest::sha256_hex;
use crate::oci::LayerBlob;
use crate::oci::layer::{Entry, add_parents, write_layer};
use crate::platform::Platform;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Where the documents are in the image (scanners look for these suffixes).
pub const SPDX_PATH: &str = "usr/share/sbom/pypack.spdx.json";
pub const CYCLONEDX_PATH: &str = "usr/share/sbom/pypack.cdx.json";
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";
pub const CYCLONEDX_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// Bumped when what is read from a layer changes.
const DPKG_FORMAT: u32 = 1;

/// A Debian package as its dpkg record in the image says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// A Python package installed into the venv.
#[derive(Debug, Clone)]
pub struct PythonPackage {
    /// Normalized name.
    pub name: String,
    pub version: String,
    pub sha256: Option<String>,
    /// Where its file came from (credentials removed; none for a local file).
    pub url: Option<String>,
    /// Normalized names of the packages it needs.
    pub dependencies: Vec<String>,
}

/// Everything the documents list.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The app's (and image's) name and version.
    pub name: String,
    pub version: Option<String>,
    pub platform: Platform,
    /// `debian-12`, `debian-forky`: the purl `distro` qualifier.
    pub distro: Option<String>,
    pub os: Vec<OsPackage>,
    pub python: Vec<PythonPackage>,
    /// Normalized names of the app's own requirements.
    pub direct: Vec<String>,
    pub epoch: u64,
}

/// The Debian packages recorded in `layers` (dpkg's status.d files and
/// status file) and the distribution their os-release names; remembered
/// per layer, as a layer never changes.
pub fn os_packages(
    cache: &Cache,
    layers: &[LayerBlob],
) -> Result<(Vec<OsPackage>, Option<String>)> {
    let mut packages = BTreeMap::new();
    let mut distro = None;
    for layer in layers {
        let (found, named) = layer_dpkg_records(cache, layer)?;
        for package in found {
            packages.insert(package.name.clone(), package);
        }
        distro = named.or(distro);
    }
    Ok((packages.into_values().collect(), distro))
}

/// [`os_packages`] of a base image and the system-library layers added
/// to it: where an image built by pypack records its Debian packages.
pub fn os_packages_on(
    cache: &Cache,
    base: &crate::oci::Image,
    system_layers: &[LayerBlob],
) -> Result<(Vec<OsPackage>, Option<String>)> {
    let layers: Vec<LayerBlob> = base.layers.iter().chain(system_layers).cloned().collect();
    os_packages(cache, &layers)
}

fn layer_dpkg_records(
    cache: &Cache,
    layer: &LayerBlob,
) -> Result<(Vec<OsPackage>, Option<String>)> {
    let key = format!("sbom dpkg format {DPKG_FORMAT}\nlayer {}\n", layer.digest);
    if let Some(text) = cache.get_ref("sbom-dpkg", &key)
        && let Ok(found) = serde_json::from_str(&text)
    {
        return Ok(found);
    }
    let hex = crate::digest::strip_sha256(&layer.digest)?;
    let file = std::fs::File::open(cache.blob_path(hex))
        .with_context(|| format!("reading layer {}", layer.digest))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let (mut packages, mut distro) = (Vec::new(), None);
    for member in archive.entries()? {
        let mut member = member?;
        if !member.header().entry_type().is_file() {
            continue;
        }
        let path = member
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let is_record = (path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums"))
            || path == "var/lib/dpkg/status";
        let is_release = path == "etc/os-release" || path == "usr/lib/os-release";
        if !is_record && !is_release {
            continue;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut member, &mut text)
            .with_context(|| format!("reading {path} in layer {}", layer.digest))?;
        if is_release {
            distro = distro_of(&text).or(distro);
        } else {
            packages.extend(paragraphs(&text));
        }
    }
    let found = (packages, distro);
    cache.set_ref("sbom-dpkg", &key, &serde_json::to_string(&found)?)?;
    Ok(found)
}

/// The installed packages of a dpkg status text (one or many paragraphs).
fn paragraphs(text: &str) -> Vec<OsPackage> {
    text.split("\n\n")
        .filter_map(|paragraph| {
            let field = |name| crate::debian::control::field(paragraph, name);
            let status = field("Status").unwrap_or_else(|| "install ok installed".into());
            if !status.ends_with(" installed") {
                return None;
            }
            Some(OsPackage {
                name: field("Package")?,
                version: field("Version")?,
                arch: field("Architecture").unwrap_or_else(|| "all".into()),
            })
        })
        .collect()
}

/// `debian-12` from os-release's ID and VERSION_ID (a testing suite has no
/// VERSION_ID: its codename then, `debian-forky`).
fn distro_of(os_release: &str) -> Option<String> {
    let value = |key: &str| {
        os_release.lines().find_map(|l| {
            l.strip_prefix(&format!("{key}="))
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    };
    let id = value("ID")?;
    let version = value("VERSION_ID").or_else(|| value("VERSION_CODENAME"))?;
    Some(format!("{id}-{version}"))
}

/// Percent-encodes a purl component: letters, digits and `.-_~` stay.
fn purl_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A character SPDX allows in an identifier, else `-`.
fn spdx_id(kind: &str, name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{cleaned}")
}

/// A UUID (RFC 4122 layout, version 5 style) made of a hash of `seed`.
fn uuid_of(seed: &[u8]) -> String {
    let hex = sha256_hex(seed);
    let mut bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl OsPackage {
    fn purl(&self, distro: Option<&str>) -> String {
        let mut purl = format!(
            "pkg:deb/debian/{}@{}?arch={}",
            purl_encode(&self.name),
            purl_encode(&self.version),
            purl_encode(&self.arch)
        );
        if let Some(distro) = distro {
            purl.push_str(&format!("&distro={}", purl_encode(distro)));
        }
        purl
    }
}

impl PythonPackage {
    fn purl(&self) -> String {
        format!(
            "pkg:pypi/{}@{}",
            purl_encode(&self.name),
            purl_encode(&self.version)
        )
    }
}

impl Inventory {
    /// The packages of the image no Python package of it depends on … and
    /// which the app requires: `direct` narrowed to the pinned names.
    fn direct_pins(&self) -> Vec<&PythonPackage> {
        let wanted: BTreeSet<&str> = self.direct.iter().map(String::as_str).collect();
        self.python
            .iter()
            .filter(|p| wanted.contains(p.name.as_str()))
            .collect()
    }

    fn pinned(&self, name: &str) -> Option<&PythonPackage> {
        self.python.iter().find(|p| p.name == name)
    }

    /// The SPDX 2.3 JSON document.
    pub fn spdx(&self) -> Result<Vec<u8>> {
        let created = crate::oci::image::rfc3339(self.epoch);
        let mut packages = vec![json!({
            "SPDXID": "SPDXRef-image",
            "name": self.name,
            "versionInfo": self.version.clone().unwrap_or_else(|| "0".into()),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "CONTAINER",
            "comment": format!("the container image for {}, built by pypack", self.platform),
        })];
        packages.push(json!({
            "SPDXID": "SPDXRef-app",
            "name": self.name,
            "versionInfo": self.version.clone().unwrap_or_else(|| "0".into()),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "APPLICATION",
            "comment": "the app's own files, at /app",
        }));
        let mut relationships = vec![json!({
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-image",
        })];
        let contains = |id: &str| json!({"spdxElementId": "SPDXRef-image", "relationshipType": "CONTAINS", "relatedSpdxElement": id});
        let depends = |from: &str, to: &str| json!({"spdxElementId": from, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": to});
        relationships.push(contains("SPDXRef-app"));
        for package in &self.os {
            let id = spdx_id("deb", &package.name);
            packages.push(json!({
                "SPDXID": id,
                "name": package.name,
                "versionInfo": package.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "primaryPackagePurpose": "LIBRARY",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": package.purl(self.distro.as_deref()),
                }],
            }));
            relationships.push(contains(&id));
        }
        for package in &self.python {
            let id = spdx_id("pypi", &package.name);
            let mut entry = json!({
                "SPDXID": id,
                "name": package.name,
                "versionInfo": package.version,
                "downloadLocation": package.url.clone().unwrap_or_else(|| "NOASSERTION".into()),
                "filesAnalyzed": false,
                "primaryPackagePurpose": "LIBRARY",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": package.purl(),
                }],
            });
            if let Some(sha256) = &package.sha256 {
                entry["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": sha256}]);
            }
            packages.push(entry);
            relationships.push(contains(&id));
            for dependency in package.dependencies.iter().filter_map(|d| self.pinned(d)) {
                relationships.push(depends(&id, &spdx_id("pypi", &dependency.name)));
            }
        }
        for package in self.direct_pins() {
            relationships.push(depends("SPDXRef-app", &spdx_id("pypi", &package.name)));
        }
        let mut document = json!({
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": format!("{} ({})", self.name, self.platform),
            "creationInfo": {
                "created": created,
                "creators": [format!("Tool: pypack-{}", env!("CARGO_PKG_VERSION"))],
            },
            "packages": packages,
            "relationships": relationships,
        });
        // Unique for unique content, the same for the same: a hash of it.
        let seed = crate::oci::image::canonical_json(&document)?;
        document["documentNamespace"] = json!(format!("urn:uuid:{}", uuid_of(&seed)));
        Ok(pretty(&document))
    }

    /// The CycloneDX 1.6 JSON document.
    pub fn cyclonedx(&self) -> Result<Vec<u8>> {
        let mut components = vec![json!({
            "type": "application",
            "bom-ref": "app",
            "name": self.name,
            "version": self.version.clone().unwrap_or_else(|| "0".into()),
            "description": "the app's own files, at /app",
        })];
        if let Some(distro) = &self.distro {
            let (name, version) = distro.split_once('-').unwrap_or((distro, ""));
            components.push(json!({
                "type": "operating-system",
                "bom-ref": "os",
                "name": name,
                "version": version,
            }));
        }
        let mut dependencies = Vec::new();
        for package in &self.os {
            let purl = package.purl(self.distro.as_deref());
            components.push(json!({
                "type": "library",
                "bom-ref": purl,
                "name": package.name,
                "version": package.version,
                "purl": purl,
            }));
        }
        for package in &self.python {
            let purl = package.purl();
            let mut component = json!({
                "type": "library",
                "bom-ref": purl,
                "name": package.name,
                "version": package.version,
                "purl": purl,
            });
            if let Some(sha256) = &package.sha256 {
                component["hashes"] = json!([{"alg": "SHA-256", "content": sha256}]);
            }
            if let Some(url) = &package.url {
                component["externalReferences"] = json!([{"type": "distribution", "url": url}]);
            }
            components.push(component);
            let needs: Vec<String> = package
                .dependencies
                .iter()
                .filter_map(|d| self.pinned(d))
                .map(PythonPackage::purl)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            dependencies.push(json!({"ref": purl, "dependsOn": needs}));
        }
        let direct: Vec<String> = self
            .direct_pins()
            .into_iter()
            .map(PythonPackage::purl)
            .collect();
        dependencies.insert(0, json!({"ref": "app", "dependsOn": direct}));
        let everything: Vec<Value> = components.iter().map(|c| c["bom-ref"].clone()).collect();
        dependencies.insert(0, json!({"ref": "image", "dependsOn": everything}));
        let mut document = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "metadata": {
                "timestamp": crate::oci::image::rfc3339(self.epoch),
                "tools": {"components": [{
                    "type": "application",
                    "name": "pypack",
                    "version": env!("CARGO_PKG_VERSION"),
                }]},
                "component": {
                    "type": "container",
                    "bom-ref": "image",
                    "name": self.name,
                    "version": self.version.clone().unwrap_or_else(|| "0".into()),
                    "description": format!("the container image for {}, built by pypack", self.platform),
                },
            },
            "components": components,
            "dependencies": dependencies,
        });
        let seed = crate::oci::image::canonical_json(&document)?;
        document["serialNumber"] = json!(format!("urn:uuid:{}", uuid_of(&seed)));
        Ok(pretty(&document))
    }
}

impl Inventory {
    /// The inventory a CycloneDX document of pypack's lists, but its
    /// Debian packages (`os` empty, `distro` none): what a rebase keeps.
    pub fn from_cyclonedx(document: &[u8], platform: Platform, epoch: u64) -> Result<Inventory> {
        let doc: Value = serde_json::from_slice(document)
            .context("the image's CycloneDX document is not JSON")?;
        let name_of = |purl: &str| -> Option<String> {
            let rest = purl.strip_prefix("pkg:pypi/")?;
            Some(rest.split('@').next()?.to_string())
        };
        let needs: BTreeMap<String, Vec<String>> = doc["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let names = d["dependsOn"]
                    .as_array()?
                    .iter()
                    .filter_map(|p| name_of(p.as_str()?))
                    .collect();
                Some((d["ref"].as_str()?.to_string(), names))
            })
            .collect();
        let python = doc["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let purl = c["purl"].as_str()?;
                let name = name_of(purl)?;
                Some(PythonPackage {
                    name,
                    version: c["version"].as_str()?.to_string(),
                    sha256: c["hashes"][0]["content"].as_str().map(str::to_string),
                    url: c["externalReferences"][0]["url"]
                        .as_str()
                        .map(str::to_string),
                    dependencies: needs.get(purl).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let component = &doc["metadata"]["component"];
        Ok(Inventory {
            name: component["name"]
                .as_str()
                .context("the CycloneDX document names no image")?
                .to_string(),
            version: component["version"]
                .as_str()
                .map(str::to_string)
                .filter(|v| v != "0"),
            platform,
            distro: None,
            os: Vec::new(),
            python,
            direct: needs.get("app").cloned().unwrap_or_default(),
            epoch,
        })
    }
}

/// An image's bill of materials in both formats.
#[derive(Debug, Clone)]
pub struct Sbom {
    pub spdx: Vec<u8>,
    pub cyclonedx: Vec<u8>,
    /// When they say they were made: the build's epoch (RFC 3339).
    pub created: String,
}

/// Both documents of `inventory`, the layer that holds them where
/// scanners look, and the layer's history line.
pub fn layer(cache: &Cache, inventory: &Inventory) -> Result<(Sbom, LayerBlob, String)> {
    let sbom = Sbom {
        spdx: inventory.spdx()?,
        cyclonedx: inventory.cyclonedx()?,
        created: crate::oci::image::rfc3339(inventory.epoch),
    };
    let mut tree = BTreeMap::from([
        (
            SPDX_PATH.to_string(),
            Entry::file(SPDX_PATH, sbom.spdx.clone(), 0o644),
        ),
        (
            CYCLONEDX_PATH.to_string(),
            Entry::file(CYCLONEDX_PATH, sbom.cyclonedx.clone(), 0o644),
        ),
    ]);
    add_parents(&mut tree)?;
    let entries: Vec<Entry> = tree.into_values().collect();
    let blob = write_layer(cache, &entries, inventory.epoch)?;
    let what = format!(
        "pypack: bill of materials (SPDX, CycloneDX) of {} Debian and {} Python packages",
        inventory.os.len(),
        inventory.python.len()
    );
    Ok((sbom, blob, what))
}

/// Indented JSON with sorted keys, ending in a newline.
fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory() -> Inventory {
        Inventory {
            name: "shop".into(),
            version: Some("1.2".into()),
            platform: Platform::ALL[1],
            distro: Some("debian-12".into()),
            os: vec![OsPackage {
                name: "libc6".into(),
                version: "2.36-9+deb12u13".into(),
                arch: "arm64".into(),
            }],
            python: vec![
                PythonPackage {
                    name: "flask".into(),
                    version: "3.1.3".into(),
                    sha256: Some("ab".repeat(32)),
                    url: Some("https://files.example/flask-3.1.3-py3-none-any.whl".into()),
                    dependencies: vec!["werkzeug".into(), "not-pinned".into()],
                },
                PythonPackage {
                    name: "werkzeug".into(),
                    version: "3.1.9".into(),
                    sha256: None,
                    url: None,
                    dependencies: vec![],
                },
            ],
            direct: vec!["flask".into()],
            epoch: 315_532_800,
        }
    }

    #[test]
    fn the_same_inventory_gives_the_same_bytes() {
        let a = inventory();
        assert_eq!(a.spdx().unwrap(), inventory().spdx().unwrap());
        assert_eq!(a.cyclonedx().unwrap(), inventory().cyclonedx().unwrap());
        let mut b = inventory();
        b.python[0].version = "3.1.4".into();
        let namespace = |bytes: Vec<u8>| {
            serde_json::from_slice::<Value>(&bytes).unwrap()["documentNamespace"].clone()
        };
        assert_ne!(namespace(a.spdx().unwrap()), namespace(b.spdx().unwrap()));
    }

    #[test]
    fn a_cyclonedx_document_reads_back_into_the_same_documents() {
        let original = inventory();
        let read = Inventory::from_cyclonedx(
            &original.cyclonedx().unwrap(),
            original.platform,
            original.epoch,
        )
        .unwrap();
        let again = Inventory {
            os: original.os.clone(),
            distro: original.distro.clone(),
            ..read
        };
        // Dependencies on unpinned names are not in the document: dropped.
        let mut expected = original.clone();
        expected.python[0].dependencies = vec!["werkzeug".into()];
        assert_eq!(again.spdx().unwrap(), expected.spdx().unwrap());
        assert_eq!(again.cyclonedx().unwrap(), expected.cyclonedx().unwrap());
    }

    #[test]
    fn purls_and_relationships() {
        let spdx: Value = serde_json::from_slice(&inventory().spdx().unwrap()).unwrap();
        let text = spdx.to_string();
        assert!(
            text.contains("pkg:deb/debian/libc6@2.36-9%2Bdeb12u13?arch=arm64&distro=debian-12"),
            "{text}"
        );
        assert!(text.contains("\"created\":\"1980-01-01T00:00:00Z\""));
        let relations: Vec<(String, String, String)> = spdx["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["spdxElementId"].as_str().unwrap().into(),
                    r["relationshipType"].as_str().unwrap().into(),
                    r["relatedSpdxElement"].as_str().unwrap().into(),
                )
            })
            .collect();
        for wanted in [
            ("SPDXRef-app", "DEPENDS_ON", "SPDXRef-pypi-flask"),
            ("SPDXRef-pypi-flask", "DEPENDS_ON", "SPDXRef-pypi-werkzeug"),
            ("SPDXRef-image", "CONTAINS", "SPDXRef-deb-libc6"),
        ] {
            let wanted = (wanted.0.into(), wanted.1.into(), wanted.2.into());
            assert!(relations.contains(&wanted), "{wanted:?} in {relations:?}");
        }
        let cdx: Value = serde_json::from_slice(&inventory().cyclonedx().unwrap()).unwrap();
        assert_eq!(
            cdx["components"][3]["hashes"][0]["content"],
            "ab".repeat(32)
        );
        assert_eq!(
            cdx["dependencies"][1]["dependsOn"][0],
            "pkg:pypi/flask@3.1.3"
        );
        let serial = cdx["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
    }

    #[test]
    fn dpkg_records_and_os_release() {
        let status = "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 2\n\n\
                      Package: b\nVersion: 1:2~3\n";
        let found = paragraphs(status);
        assert_eq!(
            found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(found[1].arch, "all");
        assert_eq!(
            distro_of(
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n"
            )
            .as_deref(),
            Some("debian-12")
        );
        assert_eq!(
            distro_of("ID=debian\nVERSION_CODENAME=forky\n").as_deref(),
            Some("debian-forky")
        );
    }
}
