use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `mail_outbox`: every message is a row, written in the same transaction
/// as what it tells (SPEC.md §2), until an instance has delivered it.
///
/// - `status`: `queued`, `sent` or `failed`.
/// - `next_attempt_at`: when it is due (now for a new message; later after
///   a failed try).
/// - `lease_owner`, `lease_until`: a deliverer's claim. An instance claims
///   a due row with a conditional `UPDATE` (it matches only while the row is
///   unclaimed or its lease has run out), so two instances never send one
///   message at once; one that dies mid-send leaves a lease that runs out.
/// - `body`: deleted once the message is sent or has failed (it may hold a
///   live link); `last_error` never holds a body or a link.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut create = Table::create();
        create
            .table(MailOutbox::Table)
            .col(big_pk_auto(MailOutbox::Id))
            .col(string_len(MailOutbox::Recipient, 320))
            .col(string_len(MailOutbox::Subject, 200))
            .col(text_null(MailOutbox::Body))
            .col(string_len(MailOutbox::Status, 16))
            .col(integer(MailOutbox::Attempts).default(0))
            .col(big_integer(MailOutbox::CreatedAt))
            .col(big_integer(MailOutbox::NextAttemptAt))
            .col(string_len_null(MailOutbox::LeaseOwner, 36))
            .col(big_integer_null(MailOutbox::LeaseUntil))
            .col(big_integer_null(MailOutbox::SentAt))
            .col(text_null(MailOutbox::LastError))
            .col(big_integer_null(MailOutbox::LastErrorAt));
        if manager.get_database_backend() == DbBackend::MySql {
            // Byte for byte, as every table (migration 9).
            create.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(create.to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_due")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::Status)
                    .col(MailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MailOutbox::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    Recipient,
    Subject,
    Body,
    Status,
    Attempts,
    CreatedAt,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    SentAt,
    LastError,
    LastErrorAt,
}
