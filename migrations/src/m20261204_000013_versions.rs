use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Versions the database keeps itself, and the recipe counts beside them.
///
/// The application keeps answers in memory and may use one only while a
/// version read from the database says it still holds. That version must
/// change in the same transaction as every write it covers, whoever writes:
/// the application, a writer that crashes right after its commit, or an
/// operator typing into `sqlite3`, `psql` or `mariadb`. So triggers change
/// it, not the application:
///
/// - `versions`, row `recipes`: every insert, update and delete of a
///   recipe, the deletion of a user (their recipes go with them), and a
///   change of a username or `public_id` (lists show the author).
/// - `users.version`: every write to the user's `sessions` and
///   `email_tokens`, and to `audit_events` about them (`subject_public_id`;
///   compared as stored, through the unique index on `users.public_id`).
///
/// A new version is a random number, never the old one plus one: a database
/// restored from an older backup must not walk back into a version that a
/// running process has kept answers under, and random values of 52 bits or
/// more do not meet in practice. The `recipes` row starts random too, so a
/// database created anew does not start where the last one did. SQLite's
/// `random()` gives 64 bits; PostgreSQL's `random()` 52, scaled to 1e18.
/// MySQL's `RAND()` returns one of only 2^30 values, so there
/// `RANDOM_BYTES` (MariaDB 10.10+, MySQL 5.6.17+) gives 56 bits, and older
/// servers fall back to two `RAND()` draws (60 bits).
///
/// The same triggers keep counts exact, so a count need not scan:
/// `recipe_tallies` (`all` recipes and the `public` ones) and
/// `users.public_recipes` / `users.private_recipes` (private: anything not
/// `'public'`, as the lists filter). An update moves the counts only when it
/// changes the visibility or the owner.
///
/// Deleting a user deletes their recipes by `ON DELETE CASCADE`. On SQLite
/// and PostgreSQL the cascaded deletes fire the recipes' triggers, which
/// count them. MySQL and MariaDB do not fire triggers for cascaded changes,
/// so there a second trigger on `users` (`tallies_users_delete`) takes off
/// what went: the user's counts less the recipes still there (none, unless
/// `foreign_key_checks` was off).
///
/// Per backend:
///
/// - SQLite: `AFTER … FOR EACH ROW` triggers (`recursive_triggers` is off,
///   and none of these fires another of them).
/// - PostgreSQL: one plpgsql function per trigger, of the same name, run
///   once per statement over its transition tables (`new_rows`,
///   `old_rows`). Row by row, a statement that writes many rows would
///   update the one `versions` row as often, in one transaction, and each
///   update walks the chain of versions the earlier ones left: a million
///   rows in one `INSERT` took hours.
/// - MySQL/MariaDB: the same `AFTER` triggers, and for `recipes`,
///   `sessions` and `email_tokens` a `BEFORE INSERT` trigger that locks the
///   owner's `users` row first. InnoDB's foreign-key check takes a shared
///   lock on that row, and the `AFTER` trigger then needs it exclusively:
///   two inserts for one user at once (two logins, a double-submitted form)
///   would each hold the shared lock and wait for the other, a deadlock.
///   Locking first makes the second wait instead. A trigger there may not
///   change a table its statement reads or writes, so no statement writing
///   these tables may read `users` (none does). With binary logging on,
///   creating triggers takes `SUPER` or `log_bin_trust_function_creators`.
///
/// The counts are taken from the recipes after the triggers exist, each in
/// one statement, so a recipe written meanwhile is counted exactly once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for table in [Versions::Table.into_iden(), RecipeTallies::Table.into_iden()] {
            let mut create = Table::create();
            create.table(table).col(string_len(Row::Name, 32).primary_key()).col(big_integer(Row::Value));
            if backend == DbBackend::MySql {
                // Byte for byte, as every table (migration 9).
                create.character_set("utf8mb4").collate("utf8mb4_bin");
            }
            manager.create_table(create.to_owned()).await?;
        }
        // One column per `ALTER TABLE`: SQLite takes no more.
        for column in [Users::Version, Users::PublicRecipes, Users::PrivateRecipes] {
            manager
                .alter_table(Table::alter().table(Users::Table).add_column(big_integer(column).default(0)).to_owned())
                .await?;
        }
        let random = random_value(manager).await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!("INSERT INTO versions (name, value) VALUES ('recipes', {random})")).await?;
        db.execute_unprepared("INSERT INTO recipe_tallies (name, value) VALUES ('public', 0), ('all', 0)").await?;
        for statement in create_triggers(backend, random)? {
            db.execute_unprepared(&statement).await?;
        }
        for statement in COUNT {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        for trigger in triggers(backend) {
            let drop = match backend {
                DbBackend::Postgres => {
                    db.execute_unprepared(&format!("DROP TRIGGER {} ON {}", trigger.name, trigger.table)).await?;
                    format!("DROP FUNCTION {}()", trigger.name)
                }
                _ => format!("DROP TRIGGER {}", trigger.name),
            };
            db.execute_unprepared(&drop).await?;
        }
        if backend == DbBackend::MySql {
            for (name, _) in MYSQL_OWNER_LOCKS {
                db.execute_unprepared(&format!("DROP TRIGGER {name}")).await?;
            }
        }
        manager.drop_table(Table::drop().table(RecipeTallies::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Versions::Table).to_owned()).await?;
        for column in [Users::PrivateRecipes, Users::PublicRecipes, Users::Version] {
            manager.alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

/// The SQL expression of a new random version on this backend.
pub(crate) async fn random_value(manager: &SchemaManager<'_>) -> Result<&'static str, DbErr> {
    match manager.get_database_backend() {
        DbBackend::Sqlite => Ok("random()"),
        DbBackend::Postgres => Ok("floor(random() * 1e18)::bigint"),
        DbBackend::MySql => {
            let probe = Statement::from_string(DbBackend::MySql, "SELECT RANDOM_BYTES(1)");
            Ok(match manager.get_connection().query_one_raw(probe).await {
                Ok(_) => "CAST(CONV(HEX(RANDOM_BYTES(7)), 16, 10) AS SIGNED)",
                // MariaDB before 10.10.
                Err(_) => "(CAST(FLOOR(RAND() * 1073741824) AS SIGNED) << 30) | CAST(FLOOR(RAND() * 1073741824) AS SIGNED)",
            })
        }
        other => Err(DbErr::Migration(format!("migration 13 does not know {other:?}"))),
    }
}

/// One row-level `AFTER` trigger. On PostgreSQL its function has its name.
struct Trigger {
    name: String,
    table: &'static str,
    /// `INSERT`, `UPDATE` or `DELETE`, or `UPDATE OF` columns (SQLite and
    /// PostgreSQL; MySQL has no column list, and the body checks them).
    event: &'static str,
    /// Statements, each ending in `;`; `{random}` is a new random version.
    body: String,
}

impl Trigger {
    fn new(name: &str, table: &'static str, event: &'static str, body: &str) -> Self {
        Self { name: name.to_owned(), table, event, body: body.to_owned() }
    }
}

/// Every trigger of this migration on `backend`, but MySQL's owner locks.
fn triggers(backend: DbBackend) -> Vec<Trigger> {
    let mut triggers = vec![
        Trigger::new("versions_recipes_insert", "recipes", "INSERT", RECIPES_INSERT),
        Trigger::new("versions_recipes_update", "recipes", "UPDATE", RECIPES_UPDATE),
        Trigger::new("versions_recipes_delete", "recipes", "DELETE", RECIPES_DELETE),
        Trigger::new("versions_users_delete", "users", "DELETE", BUMP_RECIPES),
        Trigger::new("versions_users_update", "users", "UPDATE OF username, public_id", USERS_UPDATE),
    ];
    if backend == DbBackend::MySql {
        // After `versions_users_delete`: every trigger takes `versions`
        // before `recipe_tallies`, so two of them cannot deadlock.
        triggers.push(Trigger::new("tallies_users_delete", "users", "DELETE", MYSQL_USERS_DELETE_TALLIES));
    }
    // The table, and the `users` column its column names the user by.
    let owned = [("sessions", "id", "user_id"), ("email_tokens", "id", "user_id"), ("audit_events", "public_id", "subject_public_id")];
    for (table, user, column) in owned {
        for (event, body) in [("INSERT", BUMP_USER_INSERT), ("UPDATE", BUMP_USER_UPDATE), ("DELETE", BUMP_USER_DELETE)] {
            let name = format!("versions_{table}_{}", event.to_lowercase());
            triggers.push(Trigger::new(&name, table, event, &body.replace("{user}", user).replace("{column}", column)));
        }
    }
    triggers
}

/// The statements that create the triggers on `backend`.
fn create_triggers(backend: DbBackend, random: &str) -> Result<Vec<String>, DbErr> {
    let mut statements = Vec::new();
    if backend == DbBackend::MySql {
        for (name, table) in MYSQL_OWNER_LOCKS {
            statements.push(format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW UPDATE users SET version = version WHERE id = NEW.user_id"
            ));
        }
    }
    for Trigger { name, table, event, body } in triggers(backend) {
        let body = body.replace("{random}", random);
        match backend {
            DbBackend::Sqlite => statements.push(format!("CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN{body}\nEND")),
            DbBackend::MySql => {
                let event = event.split(" OF ").next().unwrap_or(event);
                statements.push(format!("CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN{body}\nEND"));
            }
            DbBackend::Postgres => {
                let (referencing, body) = postgres_statement_trigger(&name, event);
                let body = body.replace("{random}", random);
                let event = event.split(" OF ").next().unwrap_or(event);
                statements.push(format!("CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN{body}\nRETURN NULL;\nEND\n$$"));
                statements.push(format!("CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"));
            }
            other => return Err(DbErr::Migration(format!("migration 13 does not know {other:?}"))),
        }
    }
    Ok(statements)
}

/// PostgreSQL: the transition tables a trigger reads and its body, run once
/// per statement; the same writes as the row triggers, summed over the
/// statement's rows, in the same order of tables.
fn postgres_statement_trigger(name: &str, event: &str) -> (&'static str, String) {
    let tables = match event {
        "INSERT" => "NEW TABLE AS new_rows",
        "DELETE" => "OLD TABLE AS old_rows",
        _ => "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    };
    // Each recipe as +1 (new) or -1 (old) to its owner's counts.
    let signed = match event {
        "INSERT" => "SELECT user_id, visibility, 1 AS n FROM new_rows",
        "DELETE" => "SELECT user_id, visibility, -1 AS n FROM old_rows",
        _ => "SELECT user_id, visibility, 1 AS n FROM new_rows UNION ALL SELECT user_id, visibility, -1 FROM old_rows",
    };
    let any = if event == "INSERT" { "new_rows" } else { "old_rows" };
    let body = match name {
        "versions_recipes_insert" | "versions_recipes_update" | "versions_recipes_delete" => format!(
            "
    UPDATE users SET public_recipes = public_recipes + d.public, private_recipes = private_recipes + d.private
        FROM (SELECT user_id,
                     SUM(CASE WHEN visibility = 'public' THEN n ELSE 0 END) AS public,
                     SUM(CASE WHEN visibility = 'public' THEN 0 ELSE n END) AS private
              FROM ({signed}) AS signed GROUP BY user_id) AS d
        WHERE users.id = d.user_id AND (d.public <> 0 OR d.private <> 0);
    UPDATE versions SET value = {{random}} WHERE name = 'recipes' AND EXISTS (SELECT 1 FROM {any});
    UPDATE recipe_tallies SET value = value + CASE name WHEN 'all' THEN s.all_n ELSE s.public_n END
        FROM (SELECT COALESCE(SUM(n), 0) AS all_n, COALESCE(SUM(CASE WHEN visibility = 'public' THEN n ELSE 0 END), 0) AS public_n
              FROM ({signed}) AS signed) AS s
        WHERE name IN ('all', 'public') AND CASE name WHEN 'all' THEN s.all_n ELSE s.public_n END <> 0;"
        ),
        "versions_users_delete" => "
    UPDATE versions SET value = {random} WHERE name = 'recipes' AND EXISTS (SELECT 1 FROM old_rows);"
            .to_owned(),
        "versions_users_update" => "
    UPDATE versions SET value = {random} WHERE name = 'recipes' AND EXISTS (
        SELECT 1 FROM old_rows JOIN new_rows ON new_rows.id = old_rows.id
        WHERE new_rows.username <> old_rows.username OR new_rows.public_id <> old_rows.public_id);"
            .to_owned(),
        // The tables that name a user: bump each user a statement touched.
        other => {
            let (user, column) = if other.starts_with("versions_audit_events") { ("public_id", "subject_public_id") } else { ("id", "user_id") };
            let named = match event {
                "INSERT" => format!("SELECT {column} FROM new_rows"),
                "DELETE" => format!("SELECT {column} FROM old_rows"),
                _ => format!("SELECT {column} FROM old_rows UNION SELECT {column} FROM new_rows"),
            };
            format!(
                "
    UPDATE users SET version = {{random}} WHERE {user} IN ({named});"
            )
        }
    };
    (tables, body)
}

/// MySQL/MariaDB: `BEFORE INSERT` triggers that lock the owner's row
/// before the foreign-key check does (see the migration's doc).
const MYSQL_OWNER_LOCKS: [(&str, &str); 3] =
    [("versions_recipes_lock", "recipes"), ("versions_sessions_lock", "sessions"), ("versions_email_tokens_lock", "email_tokens")];

// Every trigger writes the owner's `users` row first, then `versions`, then
// `recipe_tallies`: the order a user's deletion takes them in too.

const RECIPES_INSERT: &str = "
    UPDATE users SET public_recipes = public_recipes + CASE WHEN NEW.visibility = 'public' THEN 1 ELSE 0 END,
                     private_recipes = private_recipes + CASE WHEN NEW.visibility = 'public' THEN 0 ELSE 1 END
        WHERE id = NEW.user_id;
    UPDATE versions SET value = {random} WHERE name = 'recipes';
    UPDATE recipe_tallies SET value = value + 1 WHERE name = 'all' OR (name = 'public' AND NEW.visibility = 'public');";

const RECIPES_UPDATE: &str = "
    UPDATE users SET
            public_recipes = public_recipes
                + CASE WHEN id = NEW.user_id AND NEW.visibility = 'public' THEN 1 ELSE 0 END
                - CASE WHEN id = OLD.user_id AND OLD.visibility = 'public' THEN 1 ELSE 0 END,
            private_recipes = private_recipes
                + CASE WHEN id = NEW.user_id AND NEW.visibility <> 'public' THEN 1 ELSE 0 END
                - CASE WHEN id = OLD.user_id AND OLD.visibility <> 'public' THEN 1 ELSE 0 END
        WHERE id IN (OLD.user_id, NEW.user_id) AND (NEW.user_id <> OLD.user_id OR NEW.visibility <> OLD.visibility);
    UPDATE versions SET value = {random} WHERE name = 'recipes';
    UPDATE recipe_tallies SET value = value + CASE WHEN NEW.visibility = 'public' THEN 1 ELSE -1 END
        WHERE name = 'public' AND (NEW.visibility = 'public') <> (OLD.visibility = 'public');";

const RECIPES_DELETE: &str = "
    UPDATE users SET public_recipes = public_recipes - CASE WHEN OLD.visibility = 'public' THEN 1 ELSE 0 END,
                     private_recipes = private_recipes - CASE WHEN OLD.visibility = 'public' THEN 0 ELSE 1 END
        WHERE id = OLD.user_id;
    UPDATE versions SET value = {random} WHERE name = 'recipes';
    UPDATE recipe_tallies SET value = value - 1 WHERE name = 'all' OR (name = 'public' AND OLD.visibility = 'public');";

const BUMP_RECIPES: &str = "
    UPDATE versions SET value = {random} WHERE name = 'recipes';";

const USERS_UPDATE: &str = "
    UPDATE versions SET value = {random}
        WHERE name = 'recipes' AND (NEW.username <> OLD.username OR NEW.public_id <> OLD.public_id);";

/// MySQL/MariaDB only: the cascade deleted the user's recipes without
/// firing their triggers.
const MYSQL_USERS_DELETE_TALLIES: &str = "
    UPDATE recipe_tallies
        SET value = value - (OLD.public_recipes + OLD.private_recipes - (SELECT COUNT(*) FROM recipes WHERE user_id = OLD.id))
        WHERE name = 'all';
    UPDATE recipe_tallies
        SET value = value - (OLD.public_recipes - (SELECT COUNT(*) FROM recipes WHERE user_id = OLD.id AND visibility = 'public'))
        WHERE name = 'public';";

// `{user}` is the `users` column that `{column}` of the row names.

const BUMP_USER_INSERT: &str = "
    UPDATE users SET version = {random} WHERE {user} = NEW.{column};";

const BUMP_USER_UPDATE: &str = "
    UPDATE users SET version = {random} WHERE {user} IN (OLD.{column}, NEW.{column});";

const BUMP_USER_DELETE: &str = "
    UPDATE users SET version = {random} WHERE {user} = OLD.{column};";

/// The counts of the recipes there are, once the triggers keep them.
const COUNT: [&str; 3] = [
    "UPDATE recipe_tallies SET value = (SELECT COUNT(*) FROM recipes WHERE visibility = 'public') WHERE name = 'public'",
    "UPDATE recipe_tallies SET value = (SELECT COUNT(*) FROM recipes) WHERE name = 'all'",
    "UPDATE users SET
         public_recipes = (SELECT COUNT(*) FROM recipes WHERE recipes.user_id = users.id AND recipes.visibility = 'public'),
         private_recipes = (SELECT COUNT(*) FROM recipes WHERE recipes.user_id = users.id AND recipes.visibility <> 'public')",
];

#[derive(DeriveIden)]
enum Versions {
    Table,
}

#[derive(DeriveIden)]
enum RecipeTallies {
    Table,
}

/// The columns of `versions` and `recipe_tallies`.
#[derive(DeriveIden)]
enum Row {
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Version,
    PublicRecipes,
    PrivateRecipes,
}
