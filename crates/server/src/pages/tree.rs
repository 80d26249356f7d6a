//! A course's tree as its pages show it. The tree is the same for every
//! reader until the course changes; only which lessons are done, and which
//! one is open, differ from reader to reader. So it is rendered once per
//! course generation (kept beside the course's index): the HTML between the
//! lessons as it is, and each lesson's item in both its forms, done and not.
//! A request then puts the tree together by picking one form per lesson,
//! which costs a copy of the bytes, not a rendering.

use super::render::{with_macros, PageError};
use lectern_app::library::Node;
use lectern_core::FileId;
use lectern_store::{FileRecord, FileRole};
use minijinja::{State, Value};
use serde::Serialize;
use std::collections::HashSet;

/// The macros of this template make every piece.
const TEMPLATE: &str = "tree.html";

pub struct KeptTree {
    parts: Vec<Part>,
    /// The bytes of the tree with no lesson done, to size the answer.
    len: usize,
}

enum Part {
    Fixed(String),
    Lesson {
        item: Lesson,
        undone: String,
        done: String,
    },
}

/// What a lesson's item shows.
#[derive(Serialize)]
struct Lesson {
    id: FileId,
    name: String,
    raw_name: Option<String>,
}

#[derive(Serialize)]
struct Folder<'a> {
    name: &'a str,
    raw_name: Option<&'a str>,
}

impl KeptTree {
    /// Renders `nodes` (a course's tree) into its pieces.
    pub fn of(nodes: Vec<Node<&FileRecord>>) -> Result<KeptTree, PageError> {
        with_macros(TEMPLATE, |macros| {
            let mut kept = KeptTree {
                parts: Vec::new(),
                len: 0,
            };
            kept.list(macros, nodes)?;
            kept.len = kept.parts.iter().map(Part::len).sum();
            Ok(kept)
        })
    }

    fn list(
        &mut self,
        macros: &State<'_, '_>,
        nodes: Vec<Node<&FileRecord>>,
    ) -> Result<(), minijinja::Error> {
        self.fixed(macros.call_macro("open_list", &[])?);
        for node in nodes {
            match node {
                Node::Folder {
                    name,
                    raw_name,
                    children,
                } => {
                    let folder = Folder {
                        name: &name,
                        raw_name: raw_name.as_deref(),
                    };
                    let folder = Value::from_serialize(&folder);
                    self.fixed(macros.call_macro("open_folder", &[folder])?);
                    self.list(macros, children)?;
                    self.fixed(macros.call_macro("close_folder", &[])?);
                }
                // Only lessons are listed; a README, cover or subtitle is
                // shown through its course or its media file.
                Node::File(f) if f.role == FileRole::Material => {
                    let item = Lesson {
                        id: f.id,
                        name: f.name.clone(),
                        raw_name: f.raw_name(),
                    };
                    let undone = lesson(macros, &item, false, false)?;
                    let done = lesson(macros, &item, true, false)?;
                    self.parts.push(Part::Lesson { item, undone, done });
                }
                Node::File(_) => {}
            }
        }
        self.fixed(macros.call_macro("close_list", &[])?);
        Ok(())
    }

    fn fixed(&mut self, html: String) {
        match self.parts.last_mut() {
            Some(Part::Fixed(kept)) => kept.push_str(&html),
            _ => self.parts.push(Part::Fixed(html)),
        }
    }

    /// The tree for one reader: `done` their completed lessons, `current`
    /// the lesson they have open (its item is rendered here, marked).
    pub fn html(
        &self,
        done: &HashSet<FileId>,
        current: Option<FileId>,
    ) -> Result<Value, PageError> {
        let mut html = String::with_capacity(self.len + 64 * done.len());
        for part in &self.parts {
            match part {
                Part::Fixed(kept) => html.push_str(kept),
                Part::Lesson { item, .. } if Some(item.id) == current => {
                    let is_done = done.contains(&item.id);
                    let open = with_macros(TEMPLATE, |m| lesson(m, item, is_done, true))?;
                    html.push_str(&open);
                }
                Part::Lesson { item, done: d, .. } if done.contains(&item.id) => html.push_str(d),
                Part::Lesson { undone, .. } => html.push_str(undone),
            }
        }
        Ok(Value::from_safe_string(html))
    }
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Fixed(kept) => kept.len(),
            Part::Lesson { undone, .. } => undone.len(),
        }
    }
}

fn lesson(
    macros: &State<'_, '_>,
    item: &Lesson,
    done: bool,
    current: bool,
) -> Result<String, minijinja::Error> {
    let args = [
        Value::from_serialize(item),
        Value::from(done),
        Value::from(current),
    ];
    macros.call_macro("lesson", &args)
}
