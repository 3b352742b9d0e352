//! LOLWUT [VERSION v] [args...] (Valkey `lolwut.c`, `lolwut5.c`, `lolwut6.c`): computer
//! art and the server version. VERSION 5 draws Georg Nees' "Schotter" in braille
//! characters (`[columns] [squares-per-row] [squares-per-col]`), VERSION 6 a city skyline
//! in the four gray levels of a colour terminal (`[columns] [rows]`); any other version,
//! and the default, print only the version line. Valkey 8.0 signs every output
//! `Redis ver. 8.0.1`, and so does forkv. The randomness is not seeded by the client, so
//! only the rows that Valkey draws without it (the top two rows of squares) are
//! reproducible.

use super::{is, parse_i64, CmdResult, Ctx};
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[spec(
    "lolwut",
    -1,
    READONLY | FAST,
    (0, 0, 0),
    "server",
    "5.0.0",
    "",
    "Displays computer art and the server version",
    Core(lolwut),
)];

/// The version LOLWUT signs with (Valkey 8.0.1's `VALKEY_VERSION`).
const VERSION: &str = "8.0.1";

fn lolwut(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (version, args) = if argv.len() >= 3 && is(argv[1], "VERSION") {
        // Valkey formats the version as "%u.0.0" of the (unsigned) number given.
        (Some(parse_i64(argv[2])? as u32), &argv[3..])
    } else {
        (None, &argv[1..])
    };
    let mut rng = Rand::from_clock();
    let text = match version {
        Some(5) => {
            let cols = clamp(opt_arg(args, 0, 66)?, 1, 1000);
            let per_row = clamp(opt_arg(args, 1, 8)?, 1, 200);
            let per_col = clamp(opt_arg(args, 2, 12)?, 1, 200);
            let canvas = schotter(cols, per_row, per_col, &mut rng);
            let mut t = render_braille(&canvas);
            t.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
            t.push_str(VERSION);
            t.push('\n');
            t
        }
        Some(6) => {
            let cols = clamp(opt_arg(args, 0, 80)?, 1, 1000);
            let rows = clamp(opt_arg(args, 1, 20)?, 1, 1000);
            let mut canvas = Canvas::new(cols, rows, 3);
            skyline(&mut canvas, &mut rng);
            let mut t = render_colors(&canvas);
            t.push_str("\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. ");
            t.push_str(VERSION);
            t.push('\n');
            t
        }
        _ => format!("Redis ver. {VERSION}\n"),
    };
    ctx.reply.verbatim(text.as_bytes(), "txt");
    Ok(())
}

/// The `i`th version-specific argument as an integer, or `default` when absent.
fn opt_arg(args: &[&[u8]], i: usize, default: i64) -> Result<i64, super::CmdError> {
    args.get(i).map_or(Ok(default), |a| parse_i64(a))
}

fn clamp(v: i64, lo: i64, hi: i64) -> i32 {
    v.clamp(lo, hi) as i32
}

/// C's `rand()` stand-in: 31-bit values from a xorshift generator.
struct Rand(u64);

impl Rand {
    /// C's RAND_MAX.
    const MAX: u32 = 0x7fff_ffff;

    fn from_clock() -> Self {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Rand(t | 1)
    }

    fn next(&mut self) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 33) as u32 & Self::MAX) as i32
    }
}

/// A grid of pixels, each a colour number (0/1 for braille, 0-3 for grays).
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, bg: u8) -> Self {
        let size = (width.max(0) as usize) * (height.max(0) as usize);
        Canvas { width, height, pixels: vec![bg; size] }
    }

    /// Sets a pixel; outside the canvas nothing happens.
    fn draw(&mut self, x: i32, y: i32, color: u8) {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return;
        }
        self.pixels[(x + y * self.width) as usize] = color;
    }

    /// A pixel's colour; 0 outside the canvas.
    fn get(&self, x: i32, y: i32) -> u8 {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return 0;
        }
        self.pixels[(x + y * self.width) as usize]
    }

    /// Bresenham's line from (x1, y1) to (x2, y2).
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32, color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.draw(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square centred on (x, y), of side `size`, rotated by `angle`: its corners are
    /// points of the circumscribed circle, starting at 45 degrees. The arithmetic keeps
    /// Valkey's float/double mix so the pixels are the same.
    // Valkey divides by this truncated constant, not by SQRT_2: same pixels.
    #[allow(clippy::approx_constant)]
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        let size = (f64::from(size) / 1.4142135623) as f32;
        let size = f64::from(size).round() as f32;
        let mut k = (std::f64::consts::FRAC_PI_4 + f64::from(angle)) as f32;
        let (mut px, mut py) = ([0i32; 4], [0i32; 4]);
        for j in 0..4 {
            px[j] = (f64::from(k).sin() * f64::from(size) + f64::from(x)).round() as i32;
            py[j] = (f64::from(k).cos() * f64::from(size) + f64::from(y)).round() as i32;
            k = (f64::from(k) + std::f64::consts::FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }
}

/// Schotter: rows of squares, more displaced and rotated the lower they are.
fn schotter(cols: i32, per_row: i32, per_col: i32, rng: &mut Rand) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height, 0);
    let unit = |rng: &mut Rand| rng.next() as f32 / Rand::MAX as f32;
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let mut r1 = unit(rng) / per_col as f32 * y as f32;
                let mut r2 = unit(rng) / per_col as f32 * y as f32;
                let mut r3 = unit(rng) / per_col as f32 * y as f32;
                if rng.next() % 2 == 1 {
                    r1 = -r1;
                }
                if rng.next() % 2 == 1 {
                    r2 = -r2;
                }
                if rng.next() % 2 == 1 {
                    r3 = -r3;
                }
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i32;
                sy = (sy as f32 + r3 * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

/// Each 2x4 block of pixels as one braille character (U+2800 plus the dot bits).
fn render_braille(c: &Canvas) -> String {
    let mut text = String::new();
    let mut y = 0;
    while y < c.height {
        let mut x = 0;
        while x < c.width {
            let dots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)];
            let mut byte = 0u32;
            for (bit, (dx, dy)) in dots.iter().enumerate() {
                if c.get(x + dx, y + dy) != 0 {
                    byte |= 1 << bit;
                }
            }
            text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
            x += 2;
        }
        if y != c.height - 1 {
            text.push('\n');
        }
        y += 4;
    }
    text
}

/// One coloured space per pixel, foreground and background set to the same gray.
fn render_colors(c: &Canvas) -> String {
    let mut text = String::new();
    for y in 0..c.height {
        for x in 0..c.width {
            let ce = match c.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str("\x1b[");
            text.push_str(ce);
            text.push_str(" \x1b[0m");
        }
        if y != c.height - 1 {
            text.push('\n');
        }
    }
    text
}

/// One skyscraper of the skyline.
struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

fn skyscraper(c: &mut Canvas, s: &Skyscraper, rng: &mut Rand) {
    let start_y = c.height - 1;
    let end_y = start_y - s.height + 1;
    let mut y = start_y;
    while y >= end_y {
        for x in s.xoff..s.xoff + s.width {
            // The roof is four pixels narrower.
            if y == end_y && (x <= s.xoff + 1 || x >= s.xoff + s.width - 2) {
                continue;
            }
            let mut color = s.color;
            if s.windows && x > s.xoff + 1 && x < s.xoff + s.width - 2 && y > end_y + 1 && y < start_y - 1 {
                let relx = x - (s.xoff + 1);
                let rely = y - (end_y + 1);
                // Windows two pixels wide, one tall (terminal cells are not square).
                if relx / 2 % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = (1 + rng.next() % 2) as u8;
                        if color != s.color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        color = c.get(x - 1, y);
                    }
                }
            }
            c.draw(x, y, color);
        }
        y -= 1;
    }
}

/// Two layers of window-less background buildings, then the dark foreground ones.
fn skyline(c: &mut Canvas, rng: &mut Rand) {
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < c.width {
            offset += rng.next() % 8;
            let width = 10 + rng.next() % 9;
            let height = if color == 2 { c.height / 2 + rng.next() % c.height / 2 } else { c.height / 2 + rng.next() % c.height / 3 };
            skyscraper(c, &Skyscraper { xoff: offset, width, height, windows: false, color }, rng);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < c.width {
        offset += rng.next() % 8;
        let mut width = 5 + rng.next() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = c.height / 3 + rng.next() % c.height / 2;
        skyscraper(c, &Skyscraper { xoff: offset, width, height, windows: true, color: 0 }, rng);
        offset += width + 5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valkey 8.0.1's `LOLWUT VERSION 5 10 2 2`: two rows of squares, drawn without
    /// randomness, so the braille must match exactly.
    #[test]
    fn schotter_top_rows_match_valkey() {
        let mut rng = Rand(1);
        let text = render_braille(&schotter(10, 2, 2, &mut rng));
        assert_eq!(text, VALKEY_10_2_2);
        let text = render_braille(&schotter(66, 8, 2, &mut rng));
        assert_eq!(text, include_str!("lolwut_66_8_2.txt"));
    }

    const VALKEY_10_2_2: &str = include_str!("lolwut_10_2_2.txt");

    #[test]
    fn skyline_stays_in_the_canvas() {
        let mut rng = Rand(7);
        for (w, h) in [(1, 1), (3, 2), (80, 20), (200, 5)] {
            let mut c = Canvas::new(w, h, 3);
            skyline(&mut c, &mut rng);
            let text = render_colors(&c);
            assert_eq!(text.lines().count(), h as usize);
        }
    }
}
