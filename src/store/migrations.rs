//! The schema: `migrations/NNNN_<feature>_<what>.sql`, embedded at build time
//! and applied in order, one transaction each, tracked by `user_version`.
//! A database written by a newer Watchpost is refused, never touched.

use std::sync::OnceLock;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations, SchemaVersion};

use super::StoreError;

#[derive(rust_embed::RustEmbed)]
#[folder = "migrations/"]
struct MigrationFiles;

/// The embedded migrations in file-name order. Built once per process; the
/// texts live as long as the process, as the runner requires.
fn migrations() -> &'static Migrations<'static> {
    static MIGRATIONS: OnceLock<Migrations<'static>> = OnceLock::new();
    MIGRATIONS.get_or_init(|| {
        let steps = migration_names()
            .iter()
            .filter_map(|name| MigrationFiles::get(name))
            .map(|file| {
                let sql: &'static str = String::from_utf8_lossy(&file.data).into_owned().leak();
                M::up(sql)
            })
            .collect();
        Migrations::new(steps)
    })
}

/// The migration file names, in the order they are applied.
fn migration_names() -> Vec<String> {
    let mut names: Vec<_> = MigrationFiles::iter()
        .filter(|n| n.ends_with(".sql"))
        .map(|n| n.into_owned())
        .collect();
    names.sort();
    names
}

/// The schema version this binary brings.
pub fn known_version() -> usize {
    migration_names().len()
}

fn current_version(conn: &Connection) -> Result<usize, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(0))
}

/// Applies every pending migration, each in its own transaction. Returns the
/// version the database is at afterwards.
pub fn migrate(conn: &mut Connection) -> Result<usize, StoreError> {
    let known = known_version();
    let found = current_version(conn)?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    let migrations = migrations();
    for version in found + 1..=known {
        migrations
            .to_version(conn, version)
            .map_err(|source| StoreError::Migration { version, source })?;
    }
    match migrations.current_version(conn) {
        Ok(SchemaVersion::Inside(v)) => Ok(v.get()),
        _ => current_version(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_are_numbered_in_sequence_and_named_by_feature() {
        for (i, name) in migration_names().iter().enumerate() {
            let expected = format!("{:04}_", i + 1);
            assert!(
                name.starts_with(&expected),
                "{name} should start with {expected}"
            );
            let rest = &name[5..];
            assert!(
                rest.ends_with(".sql") && rest.split('_').count() >= 2,
                "{name} is not NNNN_<feature>_<what>.sql"
            );
        }
    }
}
