package main

import "testing"

// An admin grants Bob the role on the admin page; Bob's next page shows the
// admin link. Then Bob signs out everywhere from one browser, and his other
// browser is signed out too.
func TestE2EAdminGrantsTheRoleAndSignOutEverywhereEndsOtherBrowsers(t *testing.T) {
	f := e2eStartForum(t)
	f.RegisterAPI("admin")
	f.GrantAdmin("admin")
	b := e2eStartBrowser(t, f)

	bob := b.Person("bob")
	bob.SignUp("bob")
	bob.WaitFor("Bob has no admin link", `!document.querySelector("[data-testid=admin-link]")`)
	phone := b.Person("bob's phone")
	phone.SignIn("bob")

	admin := b.Person("admin")
	admin.SignIn("admin")
	admin.Open("/admin/stats")
	admin.Click("admin-users-link")
	admin.WaitFor("the admin page lists the admin", `location.pathname === "/admin/users" && !!document.querySelector('[data-testid=admin][data-name="admin"]')`)
	admin.Fill("grant-name-input", "bob")
	admin.Click("grant-submit")
	admin.WaitFor("Bob is listed as an admin", `location.pathname === "/admin/users" && !!document.querySelector('[data-testid=admin][data-name="bob"]')`)
	admin.Fill("grant-name-input", "nobody")
	admin.Click("grant-submit")
	admin.WaitFor("an unknown name is refused with a message", `document.querySelector("[data-testid=form-error]")?.textContent.includes("No user is named")`)

	bob.Reload()
	bob.WaitFor("Bob's next page has the admin link", `!!document.querySelector("[data-testid=admin-link]")`)
	bob.Click("logout-everywhere-submit")
	bob.WaitFor("Bob is signed out at home", `location.pathname === "/" && !!document.querySelector("[data-testid=login-link]")`)
	phone.Reload()
	phone.WaitFor("Bob's phone is signed out too", `!!document.querySelector("[data-testid=login-link]") && !document.querySelector("[data-testid=user-name]")`)
}
