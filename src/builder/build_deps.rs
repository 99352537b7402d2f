//! The Debian packages an sdist's build needs, by Python package
//! (`templates/builder/build-deps.toml`), and those an app adds for all its
//! builds (`[tool.pypack] build-packages`): the builder image of such a
//! build holds them too.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

const TABLE: &str = include_str!("../../templates/builder/build-deps.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    debian: Vec<String>,
    why: String,
}

fn table() -> Result<BTreeMap<String, Row>> {
    toml::from_str(TABLE).context("templates/builder/build-deps.toml")
}

/// The Debian packages the build of `project` (any spelling) needs, and
/// why; nothing for a package the table does not name.
pub fn for_project(project: &str) -> Result<Option<(Vec<String>, String)>> {
    let name = crate::index::normalize_name(project);
    Ok(table()?.remove(&name).map(|row| (row.debian, row.why)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_reads_and_names_the_packages_the_issue_lists() {
        let table = super::table().unwrap();
        for (python, debian) in [
            ("psycopg2", "libpq-dev"),
            ("mysqlclient", "default-libmysqlclient-dev"),
            ("python-ldap", "libldap-dev"),
            ("pycairo", "libcairo2-dev"),
            ("pyodbc", "unixodbc-dev"),
            ("lxml", "libxml2-dev"),
            ("pillow", "libjpeg-dev"),
        ] {
            assert!(table[python].debian.iter().any(|d| d == debian), "{python}");
            assert!(!table[python].why.is_empty());
        }
        // Keys are normalized names, as the lookup normalizes.
        for key in table.keys() {
            assert_eq!(*key, crate::index::normalize_name(key));
        }
        assert!(super::for_project("Psycopg2").unwrap().is_some());
        assert!(super::for_project("flask").unwrap().is_none());
    }
}
