// A product page: the product, a demo cart button, and the way into the member referral programme.
import * as Fission from "../sdk/fission.js";
import { PRODUCTS, say, start } from "./shop.js";

await start(Fission);
const sku = new URLSearchParams(location.search).get("sku");
const product = PRODUCTS.find((p) => p.sku === sku) || PRODUCTS[0];
document.title = `${product.name} · Demo Shop`;
document.getElementById("name").textContent = product.name;
document.getElementById("price").textContent = product.price;
document.getElementById("text").textContent = product.text;
const add = document.getElementById("add");
add.addEventListener("click", () => say(`${product.name} is in your cart (a demo: nothing is sold).`));
add.disabled = false; // disabled in the HTML until this handler is in place
