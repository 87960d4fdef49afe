//! The graphic rendition a run of SGR sequences leaves active, reduced to one sequence. Carrying
//! the sequences themselves from line to line would let them pile up: a program that sets a
//! colour on every line and resets only at the end would make each line longer than the last.

/// The codes that turn attributes 1-9 (bold ... strike) off, with the attributes they turn off.
const ATTRIBUTE_OFF: [(u16, &[usize]); 7] = [
    (22, &[1, 2]),
    (23, &[3]),
    (24, &[4]),
    (25, &[5, 6]),
    (27, &[7]),
    (28, &[8]),
    (29, &[9]),
];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Attributes 1-9 that are on.
    attributes: [bool; 10],
    foreground: Option<String>,
    background: Option<String>,
    underline_colour: Option<String>,
}

impl Rendition {
    /// Applies the parameters of one `ESC[...m` sequence (the text between `[` and `m`).
    pub fn apply(&mut self, params: &str) {
        let mut it = params.split(';');
        while let Some(p) = it.next() {
            // Colours may come as one colon-separated parameter (`38:5:196`).
            if p.contains(':') {
                let colour = Some(p.to_string());
                match p.split(':').next() {
                    Some("38") => self.foreground = colour,
                    Some("48") => self.background = colour,
                    Some("58") => self.underline_colour = colour,
                    _ => {}
                }
                continue;
            }
            let Ok(code) = (if p.is_empty() {
                Ok(0)
            } else {
                p.parse::<u16>()
            }) else {
                continue;
            };
            match code {
                0 => *self = Rendition::default(),
                1..=9 => self.attributes[code as usize] = true,
                21 => self.attributes[4] = true,
                22..=29 => {
                    if let Some((_, off)) = ATTRIBUTE_OFF.iter().find(|(c, _)| *c == code) {
                        for a in *off {
                            self.attributes[*a] = false;
                        }
                    }
                }
                30..=37 | 90..=97 => self.foreground = Some(code.to_string()),
                39 => self.foreground = None,
                40..=47 | 100..=107 => self.background = Some(code.to_string()),
                49 => self.background = None,
                59 => self.underline_colour = None,
                38 | 48 | 58 => {
                    let colour = extended_colour(code, &mut it);
                    match code {
                        38 => self.foreground = colour,
                        48 => self.background = colour,
                        _ => self.underline_colour = colour,
                    }
                }
                _ => {}
            }
        }
    }

    /// One sequence that sets this rendition from the default one; empty for the default.
    pub fn sequence(&self) -> String {
        let mut params: Vec<String> = (1..10)
            .filter(|a| self.attributes[*a])
            .map(|a| a.to_string())
            .collect();
        params.extend(
            [&self.foreground, &self.background, &self.underline_colour]
                .into_iter()
                .flatten()
                .cloned(),
        );
        if params.is_empty() {
            String::new()
        } else {
            format!("\x1b[{}m", params.join(";"))
        }
    }
}

/// `38;5;N` or `38;2;R;G;B` (and the same for 48 and 58), taking its parameters from `rest`.
fn extended_colour<'a>(code: u16, rest: &mut impl Iterator<Item = &'a str>) -> Option<String> {
    let kind = rest.next()?;
    let count = match kind {
        "5" => 1,
        "2" => 3,
        _ => return None,
    };
    let mut colour = format!("{code};{kind}");
    for _ in 0..count {
        colour.push(';');
        colour.push_str(rest.next()?);
    }
    Some(colour)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(seqs: &[&str]) -> String {
        let mut r = Rendition::default();
        for s in seqs {
            r.apply(s);
        }
        r.sequence()
    }

    #[test]
    fn later_settings_replace_earlier_ones() {
        assert_eq!(after(&["31", "32", "33"]), "\x1b[33m");
        assert_eq!(after(&["1;31", "44"]), "\x1b[1;31;44m");
        assert_eq!(after(&["1;31", "22;39"]), "");
        assert_eq!(
            after(&["38;5;196", "48;2;1;2;3"]),
            "\x1b[38;5;196;48;2;1;2;3m"
        );
        assert_eq!(after(&["38:2::1:2:3", "4"]), "\x1b[4;38:2::1:2:3m");
        assert_eq!(after(&["31", ""]), "");
        assert_eq!(after(&["7", "38;5"]), "\x1b[7m");
    }
}
