//! The words of the operator console, once per language: [`ConsoleLabels`], the words every
//! signed-in page shares (the header, the navigation, paging, the common columns), and the
//! words of the sign-in page ([`SignInLabels`]), the dashboard ([`DashboardLabels`]) and the
//! payments list ([`PaymentsLabels`]). The other pages keep their words in their own tables
//! (`console_bills`, `console_money`, ...). A new label is a new field: the compiler then asks
//! for it in all four tables.
//!
//! The Khmer, Malay and Indonesian words were written without a native speaker; the ones marked
//! "needs native review" are the least certain.

use super::Locale;

/// The console's shared words in one language (see [`Locale::console`]).
#[derive(Debug, PartialEq, Eq)]
pub struct ConsoleLabels {
    pub console: &'static str,
    pub dashboard: &'static str,
    pub bills: &'static str,
    pub payments: &'static str,
    pub unapplied: &'static str,
    pub notifications: &'static str,
    pub actions: &'static str,
    pub sign_out: &'static str,
    pub language: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub search: &'static str,
    pub nothing_found: &'static str,
    pub viewer: &'static str,
    pub operator: &'static str,
    /// "All" (a filter that keeps everything).
    pub all: &'static str,
    pub channel: &'static str,
    pub currency: &'static str,
    pub amount: &'static str,
    pub status: &'static str,
    pub date: &'static str,
    /// The button of a filter form.
    pub filter: &'static str,
}

/// The sign-in page's words in one language (see [`Locale::console_sign_in`]).
#[derive(Debug, PartialEq, Eq)]
pub struct SignInLabels {
    pub title: &'static str,
    pub heading: &'static str,
    pub organization_code: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub submit: &'static str,
    /// The one answer to every failed sign-in.
    pub failed: &'static str,
    /// The answer once too many sign-ins failed.
    pub limited: &'static str,
}

/// The dashboard's words in one language (see [`Locale::console_dashboard`]).
#[derive(Debug, PartialEq, Eq)]
pub struct DashboardLabels {
    pub today: &'static str,
    pub no_payments_today: &'static str,
    /// The column of a number of payments.
    pub payments_count: &'static str,
    pub bills_by_status: &'static str,
    /// The column of a number of bills.
    pub bills_count: &'static str,
    pub no_bills: &'static str,
    pub unapplied_waiting: &'static str,
    pub nothing_waiting: &'static str,
    pub failed_notifications: &'static str,
    pub chart_heading: &'static str,
    /// The chart's accessible name, followed by its first and last day.
    pub chart_label: &'static str,
    pub chart_empty: &'static str,
    /// The summary of the table of the chart's figures.
    pub figures: &'static str,
    pub day: &'static str,
}

/// The payments list's words in one language (see [`Locale::console_payments`]).
#[derive(Debug, PartialEq, Eq)]
pub struct PaymentsLabels {
    pub from: &'static str,
    pub to: &'static str,
    pub all_channels: &'static str,
    pub all_statuses: &'static str,
    pub download_csv: &'static str,
    pub time: &'static str,
    pub payment: &'static str,
    pub reference: &'static str,
    pub account: &'static str,
    pub bills: &'static str,
    pub fee: &'static str,
    pub credit: &'static str,
    /// Posted to bills (and credit).
    pub applied: &'static str,
    pub reversed: &'static str,
    /// Taken by the channel, not applied to any bill.
    pub unapplied: &'static str,
    /// Unapplied money given back.
    pub refunded: &'static str,
    /// `Rows 1–50 of 120`: "Rows" ...
    pub rows: &'static str,
    /// ... "of".
    pub of: &'static str,
    /// Followed by the text that is not a date.
    pub bad_date: &'static str,
    pub to_before_from: &'static str,
    /// Followed by the status asked for.
    pub bad_status: &'static str,
    /// Followed by the channel asked for.
    pub bad_channel: &'static str,
    /// Followed by the page asked for.
    pub bad_page: &'static str,
}

impl Locale {
    /// The console's shared words in this language.
    pub fn console(self) -> &'static ConsoleLabels {
        match self {
            Locale::En => &EN,
            Locale::Km => &KM,
            Locale::Ms => &MS,
            Locale::Id => &ID,
        }
    }

    /// The console sign-in page's words in this language.
    pub fn console_sign_in(self) -> &'static SignInLabels {
        match self {
            Locale::En => &SIGN_IN_EN,
            Locale::Km => &SIGN_IN_KM,
            Locale::Ms => &SIGN_IN_MS,
            Locale::Id => &SIGN_IN_ID,
        }
    }

    /// The console dashboard's words in this language.
    pub fn console_dashboard(self) -> &'static DashboardLabels {
        match self {
            Locale::En => &DASHBOARD_EN,
            Locale::Km => &DASHBOARD_KM,
            Locale::Ms => &DASHBOARD_MS,
            Locale::Id => &DASHBOARD_ID,
        }
    }

    /// The console payments list's words in this language.
    pub fn console_payments(self) -> &'static PaymentsLabels {
        match self {
            Locale::En => &PAYMENTS_EN,
            Locale::Km => &PAYMENTS_KM,
            Locale::Ms => &PAYMENTS_MS,
            Locale::Id => &PAYMENTS_ID,
        }
    }
}

pub static EN: ConsoleLabels = ConsoleLabels {
    console: "billhub console",
    dashboard: "Dashboard",
    bills: "Bills",
    payments: "Payments",
    unapplied: "Unapplied money",
    notifications: "Notifications",
    actions: "Action log",
    sign_out: "Sign out",
    language: "Language",
    previous: "Previous",
    next: "Next",
    search: "Search",
    nothing_found: "Nothing found.",
    viewer: "viewer",
    operator: "operator",
    all: "All",
    channel: "Channel",
    currency: "Currency",
    amount: "Amount",
    status: "Status",
    date: "Date",
    filter: "Show",
};

pub static KM: ConsoleLabels = ConsoleLabels {
    console: "កុងសូល billhub",
    dashboard: "ផ្ទាំងគ្រប់គ្រង",
    bills: "វិក្កយបត្រ",
    payments: "ការបង់ប្រាក់",
    // needs native review: money received that is not yet matched to a bill.
    unapplied: "ប្រាក់មិនទាន់ផ្គូផ្គង",
    notifications: "ការជូនដំណឹង",
    actions: "កំណត់ហេតុសកម្មភាព",
    sign_out: "ចាកចេញ",
    language: "ភាសា",
    previous: "មុន",
    next: "បន្ទាប់",
    search: "ស្វែងរក",
    nothing_found: "រកមិនឃើញអ្វីទេ។",
    // needs native review
    viewer: "អ្នកមើល",
    operator: "ប្រតិបត្តិករ",
    all: "ទាំងអស់",
    channel: "មធ្យោបាយ",
    currency: "រូបិយប័ណ្ណ",
    amount: "ចំនួនទឹកប្រាក់",
    status: "ស្ថានភាព",
    date: "កាលបរិច្ឆេទ",
    filter: "បង្ហាញ",
};

pub static MS: ConsoleLabels = ConsoleLabels {
    console: "Konsol billhub",
    dashboard: "Papan pemuka",
    bills: "Bil",
    payments: "Bayaran",
    // needs native review
    unapplied: "Wang belum diperuntukkan",
    notifications: "Pemberitahuan",
    actions: "Log tindakan",
    sign_out: "Log keluar",
    language: "Bahasa",
    previous: "Sebelumnya",
    next: "Seterusnya",
    search: "Cari",
    nothing_found: "Tiada apa-apa dijumpai.",
    // needs native review
    viewer: "pemerhati",
    operator: "operator",
    all: "Semua",
    channel: "Saluran",
    currency: "Mata wang",
    amount: "Amaun",
    status: "Status",
    date: "Tarikh",
    filter: "Tapis",
};

pub static ID: ConsoleLabels = ConsoleLabels {
    console: "Konsol billhub",
    dashboard: "Dasbor",
    bills: "Tagihan",
    payments: "Pembayaran",
    // needs native review
    unapplied: "Dana belum teralokasi",
    notifications: "Notifikasi",
    actions: "Log tindakan",
    sign_out: "Keluar",
    language: "Bahasa",
    previous: "Sebelumnya",
    next: "Berikutnya",
    search: "Cari",
    nothing_found: "Tidak ada yang ditemukan.",
    // needs native review
    viewer: "peninjau",
    operator: "operator",
    all: "Semua",
    channel: "Saluran",
    currency: "Mata uang",
    amount: "Jumlah",
    status: "Status",
    date: "Tanggal",
    filter: "Terapkan",
};

pub static SIGN_IN_EN: SignInLabels = SignInLabels {
    title: "Sign in",
    heading: "Sign in to the billhub console",
    organization_code: "Organization code",
    email: "E-mail",
    password: "Password",
    submit: "Sign in",
    failed: "Wrong organization code, e-mail or password.",
    limited: "Too many failed sign-ins. Wait 15 minutes and try again.",
};

pub static SIGN_IN_KM: SignInLabels = SignInLabels {
    title: "ចូលប្រើ",
    heading: "ចូលប្រើកុងសូល billhub",
    organization_code: "លេខកូដស្ថាប័ន",
    email: "អ៊ីមែល",
    password: "ពាក្យសម្ងាត់",
    submit: "ចូល",
    failed: "លេខកូដស្ថាប័ន អ៊ីមែល ឬពាក្យសម្ងាត់មិនត្រឹមត្រូវ។",
    limited: "ការចូលបរាជ័យច្រើនដងពេក។ សូមរង់ចាំ 15 នាទី ហើយព្យាយាមម្ដងទៀត។",
};

pub static SIGN_IN_MS: SignInLabels = SignInLabels {
    title: "Log masuk",
    heading: "Log masuk ke konsol billhub",
    organization_code: "Kod organisasi",
    email: "E-mel",
    password: "Kata laluan",
    submit: "Log masuk",
    failed: "Kod organisasi, e-mel atau kata laluan salah.",
    limited: "Terlalu banyak log masuk yang gagal. Tunggu 15 minit dan cuba lagi.",
};

pub static SIGN_IN_ID: SignInLabels = SignInLabels {
    title: "Masuk",
    heading: "Masuk ke konsol billhub",
    organization_code: "Kode organisasi",
    email: "Email",
    password: "Kata sandi",
    submit: "Masuk",
    failed: "Kode organisasi, email, atau kata sandi salah.",
    limited: "Terlalu banyak percobaan masuk yang gagal. Tunggu 15 menit lalu coba lagi.",
};

pub static DASHBOARD_EN: DashboardLabels = DashboardLabels {
    today: "Today",
    no_payments_today: "No payments today.",
    payments_count: "Payments",
    bills_by_status: "Bills by status",
    bills_count: "Bills",
    no_bills: "No bills yet.",
    unapplied_waiting: "Unapplied money waiting",
    nothing_waiting: "Nothing waiting.",
    failed_notifications: "Failed notifications",
    chart_heading: "Collections, last 30 days",
    chart_label: "Collections per channel per day",
    chart_empty: "No collections in the last 30 days.",
    figures: "The figures",
    day: "Day",
};

pub static DASHBOARD_KM: DashboardLabels = DashboardLabels {
    today: "ថ្ងៃនេះ",
    no_payments_today: "គ្មានការបង់ប្រាក់ថ្ងៃនេះទេ។",
    payments_count: "ការបង់ប្រាក់",
    bills_by_status: "វិក្កយបត្រតាមស្ថានភាព",
    bills_count: "វិក្កយបត្រ",
    no_bills: "មិនទាន់មានវិក្កយបត្រនៅឡើយទេ។",
    // needs native review
    unapplied_waiting: "ប្រាក់មិនទាន់ផ្គូផ្គងដែលកំពុងរង់ចាំ",
    nothing_waiting: "គ្មានអ្វីកំពុងរង់ចាំទេ។",
    failed_notifications: "ការជូនដំណឹងដែលបរាជ័យ",
    // needs native review
    chart_heading: "ការប្រមូលប្រាក់ 30 ថ្ងៃចុងក្រោយ",
    chart_label: "ការប្រមូលប្រាក់តាមមធ្យោបាយ ប្រចាំថ្ងៃ",
    chart_empty: "គ្មានការប្រមូលប្រាក់ក្នុងរយៈពេល 30 ថ្ងៃចុងក្រោយទេ។",
    figures: "តួលេខ",
    day: "ថ្ងៃ",
};

pub static DASHBOARD_MS: DashboardLabels = DashboardLabels {
    today: "Hari ini",
    no_payments_today: "Tiada bayaran hari ini.",
    payments_count: "Bayaran",
    bills_by_status: "Bil mengikut status",
    bills_count: "Bil",
    no_bills: "Belum ada bil.",
    // needs native review
    unapplied_waiting: "Wang belum diperuntukkan yang menunggu",
    nothing_waiting: "Tiada yang menunggu.",
    failed_notifications: "Pemberitahuan yang gagal",
    chart_heading: "Kutipan, 30 hari lepas",
    chart_label: "Kutipan mengikut saluran setiap hari",
    chart_empty: "Tiada kutipan dalam 30 hari lepas.",
    figures: "Angka",
    day: "Hari",
};

pub static DASHBOARD_ID: DashboardLabels = DashboardLabels {
    today: "Hari ini",
    no_payments_today: "Belum ada pembayaran hari ini.",
    payments_count: "Pembayaran",
    bills_by_status: "Tagihan per status",
    bills_count: "Tagihan",
    no_bills: "Belum ada tagihan.",
    // needs native review
    unapplied_waiting: "Dana belum teralokasi yang menunggu",
    nothing_waiting: "Tidak ada yang menunggu.",
    failed_notifications: "Notifikasi gagal",
    chart_heading: "Penerimaan, 30 hari terakhir",
    chart_label: "Penerimaan per saluran per hari",
    chart_empty: "Tidak ada penerimaan dalam 30 hari terakhir.",
    figures: "Angka",
    day: "Hari",
};

pub static PAYMENTS_EN: PaymentsLabels = PaymentsLabels {
    from: "From",
    to: "To",
    all_channels: "All channels",
    all_statuses: "All statuses",
    download_csv: "Download CSV",
    time: "Time",
    payment: "Payment",
    reference: "Reference",
    account: "Account",
    bills: "Bills",
    fee: "Fee",
    credit: "Credit",
    applied: "applied",
    reversed: "reversed",
    unapplied: "unapplied",
    refunded: "refunded",
    rows: "Rows",
    of: "of",
    bad_date: "Not a date (YYYY-MM-DD):",
    to_before_from: "The last day is before the first day.",
    bad_status: "No such status:",
    bad_channel: "No such channel:",
    bad_page: "Not a page number:",
};

pub static PAYMENTS_KM: PaymentsLabels = PaymentsLabels {
    from: "ពី",
    to: "ដល់",
    all_channels: "គ្រប់មធ្យោបាយ",
    all_statuses: "គ្រប់ស្ថានភាព",
    download_csv: "ទាញយក CSV",
    time: "ពេលវេលា",
    payment: "ការបង់ប្រាក់",
    reference: "លេខយោង",
    account: "គណនី",
    bills: "វិក្កយបត្រ",
    fee: "កម្រៃសេវា",
    credit: "ឥណទាន",
    // needs native review (the four statuses)
    applied: "បានទូទាត់",
    reversed: "បានលុបចោល",
    unapplied: "មិនទាន់ផ្គូផ្គង",
    refunded: "បានបង្វិលសង",
    rows: "ជួរ",
    of: "ក្នុងចំណោម",
    bad_date: "មិនមែនជាកាលបរិច្ឆេទ (YYYY-MM-DD)៖",
    to_before_from: "ថ្ងៃចុងក្រោយនៅមុនថ្ងៃដំបូង។",
    bad_status: "គ្មានស្ថានភាពនេះទេ៖",
    bad_channel: "គ្មានមធ្យោបាយនេះទេ៖",
    bad_page: "មិនមែនជាលេខទំព័រ៖",
};

pub static PAYMENTS_MS: PaymentsLabels = PaymentsLabels {
    from: "Dari",
    to: "Hingga",
    all_channels: "Semua saluran",
    all_statuses: "Semua status",
    download_csv: "Muat turun CSV",
    time: "Masa",
    payment: "Bayaran",
    reference: "Rujukan",
    account: "Akaun",
    bills: "Bil",
    fee: "Caj",
    credit: "Kredit",
    // needs native review (the four statuses)
    applied: "diperuntukkan",
    reversed: "dibatalkan",
    unapplied: "belum diperuntukkan",
    refunded: "dipulangkan",
    rows: "Baris",
    of: "daripada",
    bad_date: "Bukan tarikh (YYYY-MM-DD):",
    to_before_from: "Hari terakhir sebelum hari pertama.",
    bad_status: "Tiada status sebegini:",
    bad_channel: "Tiada saluran sebegini:",
    bad_page: "Bukan nombor halaman:",
};

pub static PAYMENTS_ID: PaymentsLabels = PaymentsLabels {
    from: "Dari",
    to: "Sampai",
    all_channels: "Semua saluran",
    all_statuses: "Semua status",
    download_csv: "Unduh CSV",
    time: "Waktu",
    payment: "Pembayaran",
    reference: "Referensi",
    account: "Akun",
    bills: "Tagihan",
    fee: "Biaya",
    credit: "Saldo",
    // needs native review (the four statuses)
    applied: "teralokasi",
    reversed: "dibatalkan",
    unapplied: "belum teralokasi",
    refunded: "dikembalikan",
    rows: "Baris",
    of: "dari",
    bad_date: "Bukan tanggal (YYYY-MM-DD):",
    to_before_from: "Hari terakhir sebelum hari pertama.",
    bad_status: "Status tidak dikenal:",
    bad_channel: "Saluran tidak dikenal:",
    bad_page: "Bukan nomor halaman:",
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Each table is its own language: no label left as the English placeholder.
    #[test]
    fn translations_differ_from_english() {
        for l in [Locale::Km, Locale::Ms, Locale::Id] {
            assert_ne!(l.console().dashboard, EN.dashboard);
            assert_ne!(l.console().sign_out, EN.sign_out);
            assert_ne!(l.console_sign_in().submit, SIGN_IN_EN.submit);
            assert_ne!(l.console_dashboard().today, DASHBOARD_EN.today);
            assert_ne!(l.console_payments().from, PAYMENTS_EN.from);
        }
        assert_eq!(Locale::Km.console().payments, "ការបង់ប្រាក់");
        assert_eq!(Locale::Ms.console_sign_in().password, "Kata laluan");
        assert_eq!(Locale::Id.console_dashboard().today, "Hari ini");
    }
}
