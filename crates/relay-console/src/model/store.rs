//! Widgets in insertion order with O(1) lookup by id. Adding never touches existing widgets,
//! which keeps the cost of an add flat however many widgets exist.

use super::Widget;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Store {
    order: Vec<String>,
    widgets: HashMap<String, Widget>,
}

impl Store {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.widgets.contains_key(id)
    }

    pub fn get(&self, id: &str) -> Option<&Widget> {
        self.widgets.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Widget> {
        self.widgets.get_mut(id)
    }

    /// Inserts a widget whose id is not in use (the caller checked).
    pub fn push(&mut self, widget: Widget) {
        self.order.push(widget.id.clone());
        self.widgets.insert(widget.id.clone(), widget);
        self.counted();
    }

    pub fn remove(&mut self, id: &str) -> Option<Widget> {
        let w = self.widgets.remove(id)?;
        if let Some(pos) = self.order.iter().rposition(|x| x == id) {
            self.order.remove(pos);
        }
        self.counted();
        Some(w)
    }

    /// `relay_console_steps`: the widgets on the console (a no-op unless the process installed
    /// a metrics recorder, as `relay init` and `relay run` do with RELAY_METRICS_LISTEN).
    fn counted(&self) {
        metrics::gauge!("relay_console_steps").set(self.order.len() as f64);
    }

    /// Ids in insertion order (oldest first).
    pub fn ids(&self) -> &[String] {
        &self.order
    }

    /// Widget at insertion position `i`.
    pub fn at(&self, i: usize) -> Option<&Widget> {
        self.order.get(i).and_then(|id| self.widgets.get(id))
    }

    pub fn at_mut(&mut self, i: usize) -> Option<&mut Widget> {
        let id = self.order.get(i)?;
        self.widgets.get_mut(id)
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        if !self.widgets.contains_key(id) {
            return None;
        }
        self.order.iter().rposition(|x| x == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Widget> {
        self.order.iter().filter_map(|id| self.widgets.get(id))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Widget> {
        self.widgets.values_mut()
    }
}
