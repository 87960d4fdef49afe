//! The payload types of `update` and message frames, with exactly the keys the Moobius SDK's
//! strict dataclass constructors accept: an unknown key in one of these makes the receiving SDK
//! drop the whole frame, so unknown keys are refused here (`deny_unknown_fields`) before anything
//! is sent. Nested dialog parts are lenient because the SDK does not check them either.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One field of a dialog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputComponent {
    /// The field's caption, which is also its id: the submitted [`ClickArgument`] carries it back.
    pub label: String,
    /// `type` on the wire: `text`, `dropdown`, `textbox`, `number`, `password` or `invalid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the dialog can be submitted with this field empty; `None` means the SDK default (not required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Grey hint text shown while the field is empty; `None` for no hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// The options of a `dropdown`; `None` for the other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
}

/// A dialog footer button; `submit: false` only closes the dialog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BottomButton {
    /// Sent back as the click's `bottom_button_id`.
    pub id: String,
    /// The button's caption.
    pub text: String,
    /// Whether pressing it sends the click; `false` only closes the dialog.
    pub submit: bool,
}

/// The pop-up of a button or menu item.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Dialog {
    /// The dialog's heading; `None` means the SDK's default, `"Dialog"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The input fields, in display order (also the order of the submitted arguments); `None` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<InputComponent>>,
    /// The footer buttons; `None` gives the default single `confirm` button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottom_buttons: Option<Vec<BottomButton>>,
}

/// A button above the input box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// The id a click on it reports as `button_id`.
    pub button_id: String,
    /// The caption shown on the button.
    pub button_text: String,
    /// The dialog a click opens first; `None` sends the click at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog: Option<Dialog>,
}

/// A right-click menu entry; `message_subtypes` is a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuItem {
    /// The id a click on it reports as `menu_item_id`.
    pub menu_item_id: String,
    /// The entry's caption.
    pub menu_item_text: String,
    /// The message subtypes (`text`, `image`, …) the entry appears on: a string or a list of strings.
    pub message_subtypes: Value,
    /// The dialog a click opens first; `None` sends the click at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog: Option<Dialog>,
}

/// A look-and-feel directive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleItem {
    /// What the directive applies to, such as `canvas`, `button` or `channel`.
    pub widget: String,
    /// `invisible`, `visible` or `highlight`.
    pub display: String,
    /// Whether the widget is shown expanded; `None` leaves it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<bool>,
    /// For `widget: button`, which button; `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_id: Option<String>,
    /// Text the directive attaches to the widget, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One canvas card; both fields null is an empty canvas.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanvasItem {
    /// The card's text; `null` or absent for none.
    #[serde(default)]
    pub text: Option<String>,
    /// URL of the card's image; `null` or absent for none.
    #[serde(default)]
    pub path: Option<String>,
}

/// A channel's name, description and type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// The channel this describes.
    pub channel_id: String,
    /// The name members see.
    pub channel_name: String,
    /// Free text shown with the name.
    pub channel_description: String,
    /// The channel's kind as the platform names it (`ccs` for a service-driven channel).
    pub channel_type: String,
}

/// The content of a message: text uses `text`; image, audio and file use `path` (+ `filename`,
/// `size`); a card uses `link`, `title`, `button`, `text`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageContent {
    /// The text of a `text` message, or the body of a `card`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// URL of the file of an `image`, `audio` or `file` message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Size in bytes of the file at `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The name to show for the file at `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The URL a `card` opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The heading of a `card`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The button of a `card`, passed through unchecked as the SDK does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<Value>,
}

impl MessageContent {
    /// The content of a plain `text` message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }
}

/// One submitted dialog value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickArgument {
    /// The [`InputComponent::label`] of the field this value was typed into.
    pub label: String,
    /// What was entered, always as a string (numbers and booleans are converted).
    pub value: String,
    /// For a file input, the uploaded file's name; `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// The profile part of a character; the SDK indexes all three keys, so all are always written.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CharacterContext {
    /// The display name.
    pub name: String,
    /// URL of the avatar image; `null` when there is none.
    #[serde(default)]
    pub avatar: Option<String>,
    /// The profile's free text; `null` when there is none.
    #[serde(default)]
    pub description: Option<String>,
}

/// A user or agent as it appears in character lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Character {
    /// The user's or agent's id.
    pub character_id: String,
    /// The profile shown for it.
    pub character_context: CharacterContext,
}

/// The kinds of per-recipient UI state a service pushes with `update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    /// `characters`: the group id of the ordered character list recipients see.
    Characters,
    /// `buttons`: the buttons above the input box (a list of [`Button`]).
    Buttons,
    /// `menu`: the right-click menu of messages (a list of [`MenuItem`]).
    Menu,
    /// `style`: look-and-feel directives (a list of [`StyleItem`]).
    Style,
    /// `canvas`: the canvas cards (a list of [`CanvasItem`]), replacing the previous ones.
    Canvas,
}

impl UpdateKind {
    /// The order in which a refresh replays cached state.
    pub const ALL: [UpdateKind; 5] = [
        Self::Characters,
        Self::Buttons,
        Self::Menu,
        Self::Style,
        Self::Canvas,
    ];

    /// The 1.8.0 `subtype` name, the only form emitted.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Characters => "characters",
            Self::Buttons => "buttons",
            Self::Menu => "menu",
            Self::Style => "style",
            Self::Canvas => "canvas",
        }
    }

    /// Accepts the 1.8.0 names and the legacy `update_` prefixed aliases.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix("update_").unwrap_or(s);
        Some(match s {
            "characters" => Self::Characters,
            "buttons" => Self::Buttons,
            "menu" | "context_menu" => Self::Menu,
            "style" => Self::Style,
            "canvas" => Self::Canvas,
            _ => return None,
        })
    }
}

/// Why a payload does not have the shape the SDK accepts.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{what}: {reason}")]
pub struct ShapeError {
    /// The part that is wrong, such as `buttons[2]` or `content`.
    pub what: String,
    /// What is wrong with it (serde's message for a bad key or type).
    pub reason: String,
}

fn items<T: for<'de> Deserialize<'de>>(what: &str, content: &Value) -> Result<(), ShapeError> {
    let list = content.as_array().ok_or_else(|| ShapeError {
        what: what.to_string(),
        reason: "content must be a list".into(),
    })?;
    for (i, item) in list.iter().enumerate() {
        T::deserialize(item).map_err(|e| ShapeError {
            what: format!("{what}[{i}]"),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// Checks an `update`'s `content` against the shape receivers accept for its kind.
pub fn check_update_content(kind: UpdateKind, content: &Value) -> Result<(), ShapeError> {
    match kind {
        UpdateKind::Buttons => items::<Button>("buttons", content),
        UpdateKind::Menu => items::<MenuItem>("menu", content),
        UpdateKind::Style => items::<StyleItem>("style", content),
        UpdateKind::Canvas => items::<CanvasItem>("canvas", content),
        UpdateKind::Characters => match content.get("characters") {
            Some(Value::String(_)) => Ok(()),
            _ => Err(ShapeError {
                what: "characters".into(),
                reason: "content.characters must be a group id string".into(),
            }),
        },
    }
}

/// Checks that a message's `content` is an object with MessageContent keys only.
pub fn check_message_content(content: &Value) -> Result<(), ShapeError> {
    if !content.is_object() {
        return Err(ShapeError {
            what: "content".into(),
            reason: "must be an object".into(),
        });
    }
    MessageContent::deserialize(content)
        .map(|_| ())
        .map_err(|e| ShapeError {
            what: "content".into(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn buttons_with_unknown_key_are_refused() {
        let ok = json!([{"button_id": "b", "button_text": "B", "dialog": null}]);
        assert!(check_update_content(UpdateKind::Buttons, &ok).is_ok());
        let bad = json!([{"button_id": "b", "button_text": "B", "arguments": []}]);
        assert!(check_update_content(UpdateKind::Buttons, &bad).is_err());
        assert!(check_update_content(UpdateKind::Buttons, &json!({"a": 1})).is_err());
    }

    #[test]
    fn message_content_keys_are_checked() {
        assert!(check_message_content(&json!({"text": "hi", "path": null})).is_ok());
        assert!(check_message_content(&json!({"text": "hi", "user_id": "x"})).is_err());
        assert!(check_message_content(&json!("hi")).is_err());
    }

    #[test]
    fn canvas_and_style_items() {
        assert!(
            check_update_content(UpdateKind::Canvas, &json!([{"text": "t", "path": null}])).is_ok()
        );
        assert!(check_update_content(UpdateKind::Canvas, &json!([{"img": "x"}])).is_err());
        assert!(check_update_content(UpdateKind::Style, &json!([{"widget": "canvas"}])).is_err());
        assert!(check_update_content(UpdateKind::Characters, &json!({"characters": "g"})).is_ok());
        assert!(
            check_update_content(UpdateKind::Characters, &json!({"characters": ["a"]})).is_err()
        );
    }

    #[test]
    fn typed_button_serialises_without_nulls() {
        let b = Button {
            button_id: "b".into(),
            button_text: "B".into(),
            dialog: None,
        };
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"button_id": "b", "button_text": "B"})
        );
    }
}
