//! One table printer for the commands' aligned columns, and the output formats they share.

/// Output formats of the figure commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document.
    Json,
}

#[derive(Debug, Clone, Copy)]
enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, Copy)]
struct Column {
    align: Align,
    width: usize,
    gap: &'static str,
}

/// Columns of fixed widths, one space apart unless told otherwise; a width of 0 leaves the cell
/// as it is (the last, free-text column).
#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    indent: &'static str,
    columns: Vec<Column>,
    next_gap: Option<&'static str>,
}

impl Table {
    /// A table whose lines start with `indent`.
    pub(super) fn new(indent: &'static str) -> Self {
        Self {
            indent,
            ..Self::default()
        }
    }

    /// Adds a left-aligned column.
    pub(super) fn left(self, width: usize) -> Self {
        self.column(Align::Left, width)
    }

    /// Adds a right-aligned column.
    pub(super) fn right(self, width: usize) -> Self {
        self.column(Align::Right, width)
    }

    /// Separates the next column by `gap` instead of one space.
    pub(super) fn gap(mut self, gap: &'static str) -> Self {
        self.next_gap = Some(gap);
        self
    }

    fn column(mut self, align: Align, width: usize) -> Self {
        let gap = self.next_gap.take().unwrap_or(" ");
        self.columns.push(Column { align, width, gap });
        self
    }

    /// One line of cells (extra cells are ignored, missing ones left empty).
    pub(super) fn line<S: AsRef<str>>(&self, cells: &[S]) -> String {
        let mut out = String::from(self.indent);
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_str(c.gap);
            }
            let cell = cells.get(i).map_or("", |s| s.as_ref());
            let w = c.width;
            match c.align {
                Align::Left => out.push_str(&format!("{cell:<w$}")),
                Align::Right => out.push_str(&format!("{cell:>w$}")),
            }
        }
        out
    }

    /// Prints one line.
    pub(super) fn print<S: AsRef<str>>(&self, cells: &[S]) {
        println!("{}", self.line(cells));
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn pads_like_the_format_strings_it_replaces() {
        let t = Table::new("  ").left(6).right(5).gap("  ").left(0);
        assert_eq!(
            t.line(&["week", "1.50", "free text"]),
            format!("  {:<6} {:>5}  {}", "week", "1.50", "free text")
        );
    }
}
