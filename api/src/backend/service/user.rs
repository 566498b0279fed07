//! Users and their first token: what `streamhooks user create` does, so a newcomer gets a token
//! without a web login.

use chrono::Utc;
use entity::user;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::auth::ALL_SCOPES;
use crate::backend::service::token;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::validate;

pub struct Created {
    pub id: String,
    pub token: String,
}

pub async fn create_with_token<C: TransactionTrait>(
    db: &C,
    name: &str,
    email: &str,
    admin: bool,
) -> Result<Created> {
    validate::name(name, "user name")?;
    validate::text(email, "email address", validate::MAX_NAME_LEN)?;
    let name = name.trim();
    let email = email.trim().to_lowercase();
    if email.len() > 512 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(Error::bad_input(format!(
            "{email:?} is not an email address"
        )));
    }
    let txn = crate::db::begin_write(db).await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(Error::bad_input(format!(
            "A user with the email {email} already exists"
        )));
    }
    let id = new_id();
    user::ActiveModel {
        id: Set(id.clone()),
        name: Set(name.to_owned()),
        email: Set(email),
        avatar: Set(None),
        bio: Set(None),
        company: Set(None),
        server_role: Set(if admin {
            user::ROLE_ADMIN
        } else {
            user::ROLE_USER
        }
        .to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let scopes: Vec<String> = ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let token = token::create(&txn, &id, "streamhooks cli", &scopes, None).await?;
    txn.commit().await?;
    Ok(Created { id, token })
}
