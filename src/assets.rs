//! Templates and static files, built into the binary so that copying
//! `target/release/recipebox` to a server is enough.
//!
//! Which copy is used: a `template_dir` / `static_dir` named in the
//! configuration wins (for theming); else a debug build uses the source
//! tree's folders, so an edited template shows on the next request; else
//! the copies built into the binary.
//!
//! rocket_dyn_templates reads templates from a folder only (and a template
//! added by hand would lose its HTML content type and escaping, which the
//! crate derives from the file name), so the built-in templates are written
//! once at start into a private temporary folder, which lives as long as
//! the application. Static files are answered straight from memory.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::http::ContentType;
use rocket::{get, routes, Route};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");
static STATIC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// The source tree's copy of `dir`, for a debug build only.
fn source_dir(dir: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    (cfg!(debug_assertions) && path.is_dir()).then_some(path)
}

/// The built-in templates written out into a private folder, kept as long
/// as the application (managed state), removed when it stops.
pub struct ExtractedTemplates(#[allow(dead_code)] tempfile::TempDir);

/// Sets `template_dir` when the configuration does not; returns the folder
/// to keep when it holds the built-in copies.
pub fn templates(figment: Figment) -> std::io::Result<(Figment, Option<ExtractedTemplates>)> {
    if figment.find_value("template_dir").is_ok() {
        return Ok((figment, None));
    }
    if let Some(dir) = source_dir("templates") {
        return Ok((figment.merge(("template_dir", dir)), None));
    }
    let dir = tempfile::Builder::new().prefix("recipebox-templates-").tempdir()?;
    TEMPLATES.extract(dir.path())?;
    let figment = figment.merge(("template_dir", dir.path().to_path_buf()));
    Ok((figment, Some(ExtractedTemplates(dir))))
}

/// The mail templates (`templates/mail/`, built in), named as Rocket's
/// loader names its templates, without extensions (`mail/notice`, so that
/// `{% extends "mail/base" %}` holds in both): plain text, never escaped.
/// Rocket loads them too, and never renders them.
pub fn mail_templates() -> Result<rocket_dyn_templates::tera::Tera, rocket_dyn_templates::tera::Error> {
    let mut tera = rocket_dyn_templates::tera::Tera::default();
    let files = TEMPLATES.get_dir("mail").into_iter().flat_map(|dir| dir.files());
    let named = files.filter_map(|file| {
        let name = file.path().to_str()?.strip_suffix(".txt.tera")?;
        Some((name.to_owned(), file.contents_utf8()?.to_owned()))
    });
    tera.add_raw_templates(named.collect::<Vec<_>>())?;
    Ok(tera)
}

/// The routes under `/static`: a folder when one is configured (or, in a
/// debug build, the source tree's), else the built-in files.
pub fn static_files(figment: &Figment) -> Vec<Route> {
    let dir = figment.extract_inner::<PathBuf>("static_dir").ok().or_else(|| source_dir("static"));
    match dir {
        Some(dir) => FileServer::from(dir).into(),
        None => routes![built_in],
    }
}

/// A built-in static file, with the content type of its extension.
#[get("/<path..>", rank = 10)]
fn built_in(path: PathBuf) -> Option<(ContentType, &'static [u8])> {
    let file = STATIC.get_file(&path)?;
    let content_type = path.extension().and_then(|e| e.to_str()).and_then(ContentType::from_extension).unwrap_or(ContentType::Binary);
    Some((content_type, file.contents()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mail_template_renders_in_one_look_as_plain_text() {
        let tera = mail_templates().unwrap();
        let mut context = rocket_dyn_templates::tera::Context::new();
        for (key, value) in [
            ("username", "<b>ann</b>"),
            ("site", "https://recipes.example.com"),
            ("what", "Something happened"),
            ("when", "4 Dec 2026, 12:00 UTC"),
            ("device", "Firefox 132 on Linux"),
            ("ip", "203.0.113.7"),
            ("email", "ann@example.com"),
            ("link", "https://recipes.example.com/x?token=abc&y=1"),
        ] {
            context.insert(key, value);
        }
        context.insert("advice", &None::<String>);
        for name in ["mail/notice", "mail/verify", "mail/reset"] {
            let text = tera.render(name, &context).unwrap();
            assert!(text.starts_with("Hello <b>ann</b>,\n\n"), "{name}, unescaped: {text}");
            assert!(text.ends_with("--\nrecipebox - https://recipes.example.com\n"), "{name}: {text}");
        }
        let notice = tera.render("mail/notice", &context).unwrap();
        for fact in ["Something happened.", "Firefox 132 on Linux", "203.0.113.7", "https://recipes.example.com/forgot-password"] {
            assert!(notice.contains(fact), "{fact}: {notice}");
        }
        assert!(tera.render("mail/reset", &context).unwrap().contains("token=abc&y=1"), "a link is not escaped");
        // ASCII, so that a link stays on one line of the message (`mail::body_of`).
        assert!(tera.render("mail/base", &context).unwrap().is_ascii());
    }

    #[test]
    fn the_binary_carries_every_template_and_static_file() {
        for name in ["layout.html.tera", "macros.html.tera", "pages/me.html.tera", "pages/admin/users.html.tera", "errors/error.html.tera"] {
            assert!(TEMPLATES.get_file(name).is_some(), "template {name}");
        }
        assert!(built_in(PathBuf::from("style.css")).is_some_and(|(ct, body)| ct == ContentType::CSS && !body.is_empty()));
        assert!(built_in(PathBuf::from("favicon.svg")).is_some_and(|(ct, _)| ct == ContentType::SVG));
        assert!(built_in(PathBuf::from("../Cargo.toml")).is_none());
        assert!(built_in(PathBuf::from("missing.css")).is_none());
    }

    #[test]
    fn built_in_templates_are_written_out_when_no_folder_is_configured() {
        let figment = Figment::new().merge(("template_dir", "/somewhere/else"));
        let (kept, extracted) = templates(figment).unwrap();
        assert!(extracted.is_none(), "a configured folder wins");
        assert_eq!(kept.extract_inner::<String>("template_dir").unwrap(), "/somewhere/else");
    }
}
