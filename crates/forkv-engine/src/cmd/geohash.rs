//! The geohash arithmetic behind the GEO commands (Valkey `geohash.c` and
//! `geohash_helper.c`): a position is stored as the score of a sorted set member, a
//! 52-bit integer interleaving 26 bits of latitude (even bits) with 26 bits of longitude
//! (odd bits) over Web Mercator's latitude range. A radius or box search covers its area
//! with the geohash box of the centre and its eight neighbours at a step chosen from the
//! radius, scans the score ranges of those boxes and filters by exact distance.
//!
//! The numbers must match Valkey's bit for bit (a file written by one is read by the
//! other, and clients compare coordinates), so this follows Valkey's formulas exactly.

/// Bits per coordinate of a stored position.
pub const STEP_MAX: u8 = 26;
/// Web Mercator's latitude limits: positions outside cannot be indexed.
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

const D_R: f64 = std::f64::consts::PI / 180.0;
/// Earth's quadratic mean radius for WGS-84, as Valkey uses it.
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

/// A geohash of `step` bits per coordinate.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// A coordinate range.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The area a hash covers.
#[derive(Clone, Copy, Debug)]
pub struct Area {
    pub long: Range,
    pub lat: Range,
}

/// The longitude and latitude ranges of stored positions.
pub const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
pub const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// Spreads the low 32 bits of `v` over the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `v` into the low 32 bits.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a position with `step` bits per coordinate over the given ranges; `None`
/// when it is outside them (or outside Web Mercator's latitudes).
pub fn encode(long_range: Range, lat_range: Range, longitude: f64, latitude: f64, step: u8) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min || latitude > lat_range.max || longitude < long_range.min || longitude > long_range.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (longitude - long_range.min) / (long_range.max - long_range.min) * scale;
    // C converts the offsets to uint32_t by truncation.
    let bits = spread(lat_offset as u32) | (spread(long_offset as u32) << 1);
    Some(Hash { bits, step })
}

/// Encodes a position over the stored ranges.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<Hash> {
    encode(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
}

/// The area a hash covers.
pub fn decode(long_range: Range, lat_range: Range, hash: Hash) -> Area {
    let ilat = f64::from(squash(hash.bits));
    let ilong = f64::from(squash(hash.bits >> 1));
    let scale = (1u64 << hash.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    Area {
        lat: Range {
            min: lat_range.min + (ilat / scale) * lat_scale,
            max: lat_range.min + ((ilat + 1.0) / scale) * lat_scale,
        },
        long: Range {
            min: long_range.min + (ilong / scale) * long_scale,
            max: long_range.min + ((ilong + 1.0) / scale) * long_scale,
        },
    }
}

/// The centre of a stored score's cell: (longitude, latitude).
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = Hash { bits: score as u64, step: STEP_MAX };
    let a = decode(LONG_RANGE, LAT_RANGE, hash);
    let long = ((a.long.min + a.long.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (long, lat)
}

/// The 52-bit score of a hash (its bits left-aligned).
pub fn align52(hash: Hash) -> u64 {
    hash.bits << (52 - u32::from(hash.step) * 2)
}

/// The score a position is stored under.
pub fn score_of(longitude: f64, latitude: f64) -> Option<u64> {
    encode_wgs84(longitude, latitude, STEP_MAX).map(align52)
}

/// Moves a hash one cell east (`d > 0`) or west (`d < 0`).
fn move_x(hash: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let mut x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    hash.bits = x | y;
}

/// Moves a hash one cell north (`d > 0`) or south (`d < 0`).
fn move_y(hash: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let x = hash.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = hash.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    hash.bits = x | y;
}

fn neighbour(hash: Hash, dx: i8, dy: i8) -> Hash {
    let mut h = hash;
    move_x(&mut h, dx);
    move_y(&mut h, dy);
    h
}

/// Great-circle distance in meters (haversine), longitudes first.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// Distance along a meridian.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The search area of GEOSEARCH/GEORADIUS.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// A circle of this radius (in the unit).
    Radius(f64),
    /// A box of this width and height (in the unit).
    Box { width: f64, height: f64 },
}

/// A search: centre, shape and the unit's size in meters.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub long: f64,
    pub lat: f64,
    pub shape: Shape,
    /// Meters per unit.
    pub conversion: f64,
}

impl Search {
    /// The distance from the centre to a position (in meters) when the position is
    /// inside the shape.
    pub fn contains(&self, long: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.long, self.lat, long, lat);
                (d <= r * self.conversion).then_some(d)
            }
            Shape::Box { width, height } => {
                if lat_distance(lat, self.lat) > height * self.conversion / 2.0 {
                    return None;
                }
                if distance(long, lat, self.long, lat) > width * self.conversion / 2.0 {
                    return None;
                }
                Some(distance(self.long, self.lat, long, lat))
            }
        }
    }

    /// [min_long, min_lat, max_long, max_lat] of the area.
    fn bounding_box(&self) -> [f64; 4] {
        let (height, width) = match self.shape {
            Shape::Radius(r) => (r * self.conversion, r * self.conversion),
            Shape::Box { width, height } => (height * self.conversion / 2.0, width * self.conversion / 2.0),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        let southern = self.lat < 0.0;
        let long_delta = if southern { long_delta_bottom } else { long_delta_top };
        [self.long - long_delta, self.lat - lat_delta, self.long + long_delta, self.lat + lat_delta]
    }

    /// The nine boxes (centre first, then N, S, E, W, NE, NW, SE, SW) that cover the
    /// area; boxes that cannot hold a match are zero hashes (skipped).
    pub fn cover(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_meters = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, self.lat);
        let mut hash = encode_wgs84(self.long, self.lat, steps).unwrap_or_default();
        let mut n = neighbours(hash);
        let area = |h: Hash| decode(LONG_RANGE, LAT_RANGE, h);
        // Near the edge of a cell one neighbour may not reach far enough: go one step
        // coarser.
        let decrease = area(n[1]).lat.max < max_lat
            || area(n[2]).lat.min > min_lat
            || area(n[3]).long.max < max_lon
            || area(n[4]).long.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = encode_wgs84(self.long, self.lat, steps).unwrap_or_default();
            n = neighbours(hash);
        }
        let a = area(hash);
        if steps >= 2 {
            let zero = Hash::default();
            if a.lat.min < min_lat {
                n[2] = zero; // south
                n[8] = zero; // south west
                n[7] = zero; // south east
            }
            if a.lat.max > max_lat {
                n[1] = zero;
                n[5] = zero;
                n[6] = zero;
            }
            if a.long.min < min_lon {
                n[4] = zero;
                n[8] = zero;
                n[6] = zero;
            }
            if a.long.max > max_lon {
                n[3] = zero;
                n[7] = zero;
                n[5] = zero;
            }
        }
        n
    }
}

/// The hash and its eight neighbours in Valkey's order: self, N, S, E, W, NE, NW, SE, SW.
fn neighbours(h: Hash) -> [Hash; 9] {
    [
        h,
        neighbour(h, 0, 1),
        neighbour(h, 0, -1),
        neighbour(h, 1, 0),
        neighbour(h, -1, 0),
        neighbour(h, 1, 1),
        neighbour(h, -1, 1),
        neighbour(h, 1, -1),
        neighbour(h, -1, -1),
    ]
}

/// The step of the nine covering boxes for a radius at a latitude.
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The score ranges `[min, max)` to scan: one per useful box, skipping a box equal to
/// the previous one scanned (huge radii make neighbours coincide).
pub fn score_ranges(boxes: &[Hash; 9]) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(9);
    let mut last: Option<Hash> = None;
    for &h in boxes {
        if h.is_zero() {
            continue;
        }
        if last == Some(h) {
            continue;
        }
        let min = align52(h);
        let max = align52(Hash { bits: h.bits + 1, step: h.step });
        out.push((min, max));
        last = Some(h);
    }
    out
}

/// The standard 11-character geohash string of a stored score (re-encoded over
/// latitudes -90..90, the last character always `0` as Valkey prints it).
pub fn geohash_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (long, lat) = decode_score(score);
    let bits = encode(LONG_RANGE, Range { min: -90.0, max: 90.0 }, long, lat, 26)
        .map(|h| h.bits)
        .unwrap_or(0);
    (0..11)
        .map(|i| {
            let idx = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
            char::from(ALPHABET[idx as usize])
        })
        .collect()
}

/// A coordinate as Valkey's `addReplyHumanLongDouble` prints it: 17 decimals, trailing
/// zeros and a trailing dot removed.
pub fn human_double(d: f64) -> String {
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// A distance with four decimals (`addReplyDoubleDistance`).
pub fn distance_string(d: f64) -> String {
    format!("{d:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_scores_and_decodes_like_valkey() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores 3479099956230698.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        let (long, lat) = decode_score(3479099956230698.0);
        assert_eq!(human_double(long), "13.36138933897018433");
        assert_eq!(human_double(lat), "38.11555639549629859");
        assert_eq!(geohash_string(3479099956230698.0), "sqc8b49rny0");
        assert_eq!(geohash_string(3479447370796909.0), "sqdtr74hyu0");
    }

    #[test]
    fn distance_between_palermo_and_catania() {
        let (a, b) = (decode_score(3479099956230698.0), decode_score(3479447370796909.0));
        assert_eq!(distance_string(distance(a.0, a.1, b.0, b.1)), "166274.1516");
    }

    #[test]
    fn out_of_range_positions_are_rejected() {
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        assert!(score_of(-180.0, -85.05112878).is_some());
    }

    #[test]
    fn neighbours_move_one_cell() {
        let h = encode_wgs84(0.1, 0.1, 4).unwrap_or_default();
        let n = neighbours(h);
        let a = decode(LONG_RANGE, LAT_RANGE, h);
        let east = decode(LONG_RANGE, LAT_RANGE, n[3]);
        assert!((east.long.min - a.long.max).abs() < 1e-9);
        let north = decode(LONG_RANGE, LAT_RANGE, n[1]);
        assert!((north.lat.min - a.lat.max).abs() < 1e-9);
    }
}
