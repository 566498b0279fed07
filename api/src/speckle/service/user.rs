//! Users and their first token: what `streamhooks user create` does, so a newcomer gets a token
//! without a web login; profile changes; and the user search Speckle's clients run to pick
//! collaborators.

use chrono::Utc;
use entity::ids::UserId;
use entity::user;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::context::auth::ALL_SCOPES;
use crate::context::error::{Error, Result};
use crate::context::ids::new_id;
use crate::context::validate;
use crate::speckle::service::page::{self, Page};
use crate::speckle::service::token;

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
    let txn = crate::context::db::begin_write(db).await?;
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
    let owner = UserId::from(id.as_str());
    let token = token::create(&txn, &owner, "streamhooks cli", &scopes, None).await?;
    txn.commit().await?;
    Ok(Created { id, token })
}

/// `UserUpdateInput`: only the fields given change.
#[derive(Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub company: Option<String>,
    pub bio: Option<String>,
    pub avatar: Option<String>,
}

const MAX_COMPANY_LEN: usize = 512;
const MAX_BIO_LEN: usize = 2048;
/// Speckle stores avatars as data URLs of small images, so they are long.
const MAX_AVATAR_LEN: usize = 262_144;

/// Changes the user's own profile; returns it as stored.
pub async fn update_profile<C: sea_orm::ConnectionTrait>(
    db: &C,
    id: &UserId,
    input: ProfileUpdate,
) -> Result<user::Model> {
    let Some(old) = user::Entity::find_by_id(id.as_str()).one(db).await? else {
        return Err(Error::forbidden("Your user no longer exists"));
    };
    let mut am: user::ActiveModel = old.into();
    let limited = |v: &str, what: &str, max: usize| -> Result<()> {
        if v.contains('\0') || v.chars().count() > max {
            return Err(Error::bad_input(format!(
                "The {what} must be at most {max} characters, without NUL"
            )));
        }
        Ok(())
    };
    if let Some(n) = input.name {
        let n = n.trim().to_owned();
        if n.is_empty() {
            return Err(Error::bad_input("A user name must be 1 to 512 characters"));
        }
        limited(&n, "name", 512)?;
        am.name = Set(n);
    }
    if let Some(c) = input.company {
        limited(&c, "company", MAX_COMPANY_LEN)?;
        am.company = Set(Some(c));
    }
    if let Some(b) = input.bio {
        limited(&b, "bio", MAX_BIO_LEN)?;
        am.bio = Set(Some(b));
    }
    if let Some(a) = input.avatar {
        limited(&a, "avatar", MAX_AVATAR_LEN)?;
        am.avatar = Set(Some(a));
    }
    Ok(sea_orm::ActiveModelTrait::update(am, db).await?)
}

/// The shortest search Speckle accepts: shorter ones would list nearly every user.
pub const MIN_SEARCH_LEN: usize = 3;

/// `Query.userSearch` / `Query.users`.
pub struct Search<'a> {
    pub query: &'a str,
    /// Only the user whose email is exactly `query`.
    pub email_only: bool,
    /// Only users with a role on this project.
    pub project_id: Option<&'a str>,
}

/// Users whose name or email contains the query (case-insensitive), newest account first. The
/// email is matched but never returned: callers answer with `LimitedUser`.
pub async fn search<C: sea_orm::ConnectionTrait>(
    db: &C,
    s: &Search<'_>,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<user::Model>> {
    use sea_orm::sea_query::{Expr, Func, LikeExpr, Query};
    use sea_orm::{Condition, PaginatorTrait, QueryOrder, QuerySelect};

    let query = s.query.trim();
    validate::text(query, "search query", validate::MAX_NAME_LEN)?;
    if query.chars().count() < MIN_SEARCH_LEN {
        return Err(Error::bad_input(format!(
            "A user search needs at least {MIN_SEARCH_LEN} characters"
        )));
    }
    let cursor = cursor.map(page::decode).transpose()?;
    let lower = |c: user::Column| Expr::expr(Func::lower(Expr::col((user::Entity, c))));
    let pattern = || LikeExpr::new(page::contains_pattern(query)).escape('\\');
    let matching = || {
        let mut q = user::Entity::find();
        q = if s.email_only {
            q.filter(user::Column::Email.eq(query.to_lowercase()))
        } else {
            q.filter(
                Condition::any()
                    .add(lower(user::Column::Name).like(pattern()))
                    .add(lower(user::Column::Email).like(pattern())),
            )
        };
        if let Some(p) = s.project_id {
            q = q.filter(
                user::Column::Id.in_subquery(
                    Query::select()
                        .column(entity::stream_acl::Column::UserId)
                        .from(entity::stream_acl::Entity)
                        .and_where(entity::stream_acl::Column::StreamId.eq(p))
                        .to_owned(),
                ),
            );
        }
        q
    };
    let total = matching().count(db).await?;
    let mut q = matching()
        .order_by_desc(user::Column::CreatedAt)
        .order_by_desc(user::Column::Id)
        .limit(limit + 1);
    if let Some(c) = &cursor {
        q = q.filter(page::after(c, user::Column::CreatedAt, user::Column::Id));
    }
    Ok(page::finish(q.all(db).await?, limit, total, |u| {
        (u.created_at, u.id.clone())
    }))
}
